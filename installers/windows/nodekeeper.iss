; Inno Setup script: installs the Windows bundle and registers the core as a
; Windows service through `nodekeeper service install` (sc.exe).
; Written and reviewed, not run: nodekeeper's tests run on Linux only.
;
; Build, on Windows, after `python installers\build.py core tray` and
; unpacking both zips from dist\ into installers\windows\stage\:
;   iscc /DAppVersion=0.2.0 installers\windows\nodekeeper.iss
; stage\nodekeeper\       the core bundle (nodekeeper.exe, _internal\)
; stage\nodekeeper-tray\  the tray bundle (nodekeeper-tray.exe, _internal\)
;
; The service is registered only when the instance config exists
; (%ProgramData%\nodekeeper\storagenode.toml); otherwise the installer
; tells the operator to write it and run the same command. The Service
; Control Manager needs a service host in front of `nodekeeper run`
; (docs/service.md, "Windows"): until the core has its own SCM entry point,
; point the service at a wrapper such as WinSW.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{6A1C2F0E-6E52-4F3A-9B7D-6B0C4E0A9D11}
AppName=nodekeeper
AppVersion={#AppVersion}
AppPublisher=nodekeeper contributors
DefaultDirName={autopf}\nodekeeper
DisableProgramGroupPage=yes
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible arm64
ArchitecturesInstallIn64BitMode=x64compatible arm64
OutputBaseFilename=nodekeeper-{#AppVersion}-windows-setup
Compression=lzma2
SolidCompression=yes
ChangesEnvironment=yes
UninstallDisplayIcon={app}\nodekeeper\nodekeeper.exe

[Files]
Source: "stage\nodekeeper\*"; DestDir: "{app}\nodekeeper"; Flags: recursesubdirs ignoreversion
Source: "stage\nodekeeper-tray\*"; DestDir: "{app}\nodekeeper-tray"; Flags: recursesubdirs ignoreversion

[Dirs]
; ProgramData\nodekeeper holds configs and state: only SYSTEM and Administrators may write it.
Name: "{commonappdata}\nodekeeper"; Permissions: system-full admins-full users-readexec

[Registry]
; `nodekeeper` on the system PATH.
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; \
  ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}\nodekeeper"; \
  Check: NeedsAddPath(ExpandConstant('{app}\nodekeeper'))

[Run]
Filename: "{app}\nodekeeper\nodekeeper.exe"; \
  Parameters: "service install --config ""{commonappdata}\nodekeeper\storagenode.toml"""; \
  StatusMsg: "Registering the nodekeeper service..."; \
  Flags: runhidden waituntilterminated; Check: ConfigExists

[UninstallRun]
Filename: "{app}\nodekeeper\nodekeeper.exe"; \
  Parameters: "service uninstall --config ""{commonappdata}\nodekeeper\storagenode.toml"""; \
  RunOnceId: "UnregisterService"; Flags: runhidden waituntilterminated; Check: ConfigExists

[Code]
function ConfigExists: Boolean;
begin
  Result := FileExists(ExpandConstant('{commonappdata}\nodekeeper\storagenode.toml'));
end;

function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKLM, 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment', 'Path', Path) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if (CurStep = ssPostInstall) and not ConfigExists then
    MsgBox('Write ' + ExpandConstant('{commonappdata}\nodekeeper\storagenode.toml') +
      ', then run: nodekeeper service install --config <that file>', mbInformation, MB_OK);
end;

"""ctypes bindings for the Win32 calls of ``windows.py`` (Windows only).

Written against the documented structures of jobapi2.h and winbase.h;
reviewed, and exercised on Linux only through the ``Win32`` protocol's
stand-in (tests/unit/platform/test_windows.py).
"""

from __future__ import annotations

import sys

if sys.platform == "win32":
    import ctypes
    import msvcrt
    from ctypes import wintypes

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)

    JobObjectExtendedLimitInformation = 9
    JobObjectCpuRateControlInformation = 15
    JobObjectBasicProcessIdList = 3
    PROCESS_SET_QUOTA = 0x0100
    PROCESS_TERMINATE = 0x0001
    LOCK_NB_EXCLUSIVE = 2  # msvcrt.LK_NBLCK

    class IO_COUNTERS(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_ulonglong)
            for name in (
                "ReadOperationCount",
                "WriteOperationCount",
                "OtherOperationCount",
                "ReadTransferCount",
                "WriteTransferCount",
                "OtherTransferCount",
            )
        ]

    class JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):
        _fields_ = [
            ("PerProcessUserTimeLimit", ctypes.c_int64),
            ("PerJobUserTimeLimit", ctypes.c_int64),
            ("LimitFlags", wintypes.DWORD),
            ("MinimumWorkingSetSize", ctypes.c_size_t),
            ("MaximumWorkingSetSize", ctypes.c_size_t),
            ("ActiveProcessLimit", wintypes.DWORD),
            ("Affinity", ctypes.c_size_t),
            ("PriorityClass", wintypes.DWORD),
            ("SchedulingClass", wintypes.DWORD),
        ]

    class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
        _fields_ = [
            ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
            ("IoInfo", IO_COUNTERS),
            ("ProcessMemoryLimit", ctypes.c_size_t),
            ("JobMemoryLimit", ctypes.c_size_t),
            ("PeakProcessMemoryUsed", ctypes.c_size_t),
            ("PeakJobMemoryUsed", ctypes.c_size_t),
        ]

    class JOBOBJECT_CPU_RATE_CONTROL_INFORMATION(ctypes.Structure):
        _fields_ = [("ControlFlags", wintypes.DWORD), ("CpuRate", wintypes.DWORD)]

    def _check(ok: int, what: str) -> None:
        if not ok:
            raise ctypes.WinError(ctypes.get_last_error(), what)  # type: ignore[call-arg]

    class CtypesWin32:
        def create_job(self, name: str | None) -> int:
            handle = _kernel32.CreateJobObjectW(None, name)
            _check(handle, "CreateJobObjectW")
            return int(handle)

        def set_job_limits(
            self, job: int, flags: int, memory: int | None, cpu_rate: int | None
        ) -> None:
            info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
            info.BasicLimitInformation.LimitFlags = flags
            if memory is not None:
                info.JobMemoryLimit = memory
            _check(
                _kernel32.SetInformationJobObject(
                    job, JobObjectExtendedLimitInformation, ctypes.byref(info), ctypes.sizeof(info)
                ),
                "SetInformationJobObject",
            )
            if cpu_rate is not None:
                rate = JOBOBJECT_CPU_RATE_CONTROL_INFORMATION(0x1 | 0x4, cpu_rate)
                _check(
                    _kernel32.SetInformationJobObject(
                        job,
                        JobObjectCpuRateControlInformation,
                        ctypes.byref(rate),
                        ctypes.sizeof(rate),
                    ),
                    "SetInformationJobObject(cpu)",
                )

        def assign_to_job(self, job: int, pid: int) -> None:
            process = _kernel32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, pid)
            _check(process, "OpenProcess")
            try:
                _check(_kernel32.AssignProcessToJobObject(job, process), "AssignProcessToJobObject")
            finally:
                _kernel32.CloseHandle(process)

        def terminate_job(self, job: int, exit_code: int) -> None:
            _check(_kernel32.TerminateJobObject(job, exit_code), "TerminateJobObject")

        def job_pids(self, job: int) -> list[int]:
            capacity = 1024

            class PID_LIST(ctypes.Structure):
                _fields_ = [
                    ("NumberOfAssignedProcesses", wintypes.DWORD),
                    ("NumberOfProcessIdsInList", wintypes.DWORD),
                    ("ProcessIdList", ctypes.c_size_t * capacity),
                ]

            info = PID_LIST()
            _check(
                _kernel32.QueryInformationJobObject(
                    job, JobObjectBasicProcessIdList, ctypes.byref(info), ctypes.sizeof(info), None
                ),
                "QueryInformationJobObject",
            )
            return [int(info.ProcessIdList[i]) for i in range(info.NumberOfProcessIdsInList)]

        def send_console_event(self, event: int, group_pid: int) -> None:
            _check(_kernel32.GenerateConsoleCtrlEvent(event, group_pid), "GenerateConsoleCtrlEvent")

        def lock_file(self, fd: int) -> bool:
            try:
                msvcrt.locking(fd, LOCK_NB_EXCLUSIVE, 1)
            except OSError:
                return False
            return True

        def unlock_file(self, fd: int) -> None:
            msvcrt.locking(fd, 0, 1)  # LK_UNLCK

"""nodekeeper-tray: a per-user tray icon, a client of one or more cores."""

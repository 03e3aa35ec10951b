// The agent, promtool, systemd and the deployment targets are Linux-only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

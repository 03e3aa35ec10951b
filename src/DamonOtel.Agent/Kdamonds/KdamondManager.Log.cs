using Microsoft.Extensions.Logging;

namespace DamonOtel.Agent.Kdamonds;

// The manager's log messages (event ids 200-219).
internal sealed partial class KdamondManager
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Started kdamond {Name} as kdamonds/{Index} (regions from {Source}, thread pid {Pid})")]
    private partial void LogStarted(string name, int index, string source, int pid);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Kdamond {Name}: {Reason}")]
    private partial void LogStartFailed(string name, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "Kdamond {Name} waits: {Reason}")]
    private partial void LogWaiting(string name, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "Kdamond {Name} (kdamonds/{Index}) stopped by itself (its target processes exited?); restarting when they return")]
    private partial void LogStoppedByItself(string name, int index);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Re-adopted {Count} kdamond(s) started by a previous run of this agent")]
    private partial void LogAdopted(int count);

    [LoggerMessage(EventId = 205, Level = LogLevel.Error, Message = "Cannot start the configured kdamonds: kdamond(s) {Others} run and are not ours")]
    private partial void LogCannotStart(string others);

    [LoggerMessage(EventId = 206, Level = LogLevel.Warning, Message = "Rewriting nr_kdamonds replaces {Count} idle kdamond dir(s) not started by this agent")]
    private partial void LogOverwritingIdle(int count);

    [LoggerMessage(EventId = 207, Level = LogLevel.Information, Message = "Committed new settings to kdamond {Name} (kdamonds/{Index}); monitoring continues")]
    private partial void LogCommitted(string name, int index);

    [LoggerMessage(EventId = 208, Level = LogLevel.Information, Message = "Stopped kdamond {Name} (kdamonds/{Index})")]
    private partial void LogStopped(string name, int index);

    [LoggerMessage(EventId = 209, Level = LogLevel.Warning, Message = "Stopping kdamond {Name} failed: {Reason}")]
    private partial void LogStopFailed(string name, string reason);

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Config reloaded: {Count} kdamond(s) updated in place")]
    private partial void LogReloaded(int count);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "Config reload changes the set of kdamonds ({Old} -> {New}): restarting ours")]
    private partial void LogRestartingForReload(int old, int @new);

    [LoggerMessage(EventId = 212, Level = LogLevel.Warning, Message = "Could not record owned kdamonds in {File}: {Reason}")]
    private partial void LogOwnershipNotSaved(string file, string reason);

    [LoggerMessage(EventId = 213, Level = LogLevel.Error, Message = "Configured kdamonds not started: {Reason}")]
    private partial void LogBlocked(string reason);

    [LoggerMessage(EventId = 214, Level = LogLevel.Warning, Message = "Switched {Module} off to run the configured kdamonds (kernel_modules.take_over: {Name}) in {Ms:F0} ms; it is switched back on when the agent stops")]
    private partial void LogTookOver(string module, string name, double ms);

    [LoggerMessage(EventId = 215, Level = LogLevel.Information, Message = "Switched {Module} back on ({Ms:F0} ms after our kdamonds were stopped)")]
    private partial void LogRestored(string module, double ms);

    [LoggerMessage(EventId = 216, Level = LogLevel.Error, Message = "Could not switch {Module} back on: {Reason}; it stays off (recorded, retried at the next clean stop)")]
    private partial void LogRestoreFailed(string module, string reason);

    [LoggerMessage(EventId = 217, Level = LogLevel.Warning, Message = "{Module} was switched off by this agent but is no longer in this kernel; forgetting it")]
    private partial void LogModuleGone(string module);

    [LoggerMessage(EventId = 218, Level = LogLevel.Warning, Message = "Exiting without stopping our kdamonds (stop_on_exit: false): {Modules} stay(s) off while they run")]
    private partial void LogModulesStayOff(string modules);

    [LoggerMessage(EventId = 219, Level = LogLevel.Warning, Message = "Ignoring the ownership record: {Reason}; kdamonds it may list are treated as not ours")]
    private partial void LogOwnershipUnreadable(string reason);
}

using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

// kdamonds[i].targets[j]: a process (pid, pid_file, process_name, cmdline) or memory ranges.
internal static partial class ConfigLoader
{
    private static TargetConfig ReadTarget(YamlNodeReader t, int index, string ops)
    {
        if (t.Has("command"))
        {
            t.Error(t.Raw("command"), "command", "shell commands are not accepted as targets (the agent runs as root); start the program yourself and name it with process_name, pid_file or pid");
        }

        string name = t.String("name") ?? index.ToString(CultureInfo.InvariantCulture);
        long? pid = t.Integer("pid", 1, int.MaxValue);
        string? pidFile = t.String("pid_file");
        string? processName = t.String("process_name");
        string? cmdline = t.String("cmdline");
        if (cmdline is not null)
        {
            try
            {
                _ = new Regex(cmdline, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                t.Error(t.Raw("cmdline"), "cmdline", $"not a valid regular expression: {e.Message}");
            }
        }

        bool includeChildren = t.Bool("include_children", false);
        long? maxProcesses = t.Integer("max_processes", 1, TargetConfig.MaxProcessesLimit);
        IReadOnlyList<string> executables = Executables(t);
        IReadOnlyList<uint> uids = Uids(t, "uid");
        long? pidFileOwner = t.Integer("pid_file_owner", 0, uint.MaxValue - 1);

        PhysicalRange? memory = NullableKeyword(t, "memory", "largest_block", "whole_span") switch
        {
            "largest_block" => PhysicalRange.LargestBlock,
            "whole_span" => PhysicalRange.WholeSpan,
            _ => null,
        };

        var regions = new List<(ulong, ulong)>();
        foreach (YamlNodeReader reg in t.MappingList("regions"))
        {
            ulong? start = Address(reg, "start");
            ulong? end = Address(reg, "end");
            if (start is null || end is null)
            {
                reg.Error(null, "start", "a region needs both start and end");
            }
            else if (start >= end)
            {
                reg.Error(reg.Raw("end"), "end", "must be above start ([start, end) ranges)");
            }
            else if (regions.Count > 0 && start < regions[^1].Item2)
            {
                reg.Error(reg.Raw("start"), "start", "regions must be sorted and must not overlap (the kernel rejects it)");
            }
            else
            {
                regions.Add((start.Value, end.Value));
            }

            reg.RejectUnknownKeys();
        }

        int selectors = (pid is null ? 0 : 1) + (pidFile is null ? 0 : 1) + (processName is null ? 0 : 1) + (cmdline is null ? 0 : 1);
        switch (ops)
        {
            case "vaddr":
                if (selectors != 1)
                {
                    t.Error(null, "pid", "a vaddr target names its process with exactly one of: pid, pid_file, process_name, cmdline");
                }

                if (memory is not null || regions.Count > 0)
                {
                    t.Error(t.Raw("memory") ?? t.Raw("regions"), "regions", "vaddr builds its regions from the process's mappings; use operations: fvaddr for fixed ranges");
                }

                break;
            case "fvaddr":
                if (selectors != 1 || regions.Count == 0)
                {
                    t.Error(null, "regions", "an fvaddr target needs a process (pid, pid_file, process_name or cmdline) and its fixed 'regions'");
                }

                break;
            default:
                if (selectors != 0)
                {
                    t.Error(null, "pid", "a paddr target monitors physical memory: no process; use memory: largest_block|whole_span or regions");
                }

                if (memory is not null && regions.Count > 0)
                {
                    t.Error(t.Raw("regions"), "regions", "give either memory or regions, not both");
                }

                if (memory is null && regions.Count == 0)
                {
                    memory = PhysicalRange.LargestBlock;
                }

                break;
        }

        if (selectors == 0)
        {
            foreach (string key in (string[])["include_children", "max_processes", "exe", "uid", "pid_file_owner"])
            {
                if (t.Has(key))
                {
                    t.Error(t.Raw(key), key, "applies to process targets only (pid, pid_file, process_name, cmdline)");
                }
            }
        }

        if (pidFileOwner is not null && pidFile is null)
        {
            t.Error(t.Raw("pid_file_owner"), "pid_file_owner", "applies to pid_file targets only");
        }

        t.RejectUnknownKeys();
        return new TargetConfig
        {
            Name = name,
            Pid = (int?)pid,
            PidFile = pidFile,
            ProcessName = processName,
            CmdlinePattern = cmdline,
            Memory = memory,
            Regions = regions,
            IncludeChildren = includeChildren,
            MaxProcesses = (int?)maxProcesses ?? TargetConfig.DefaultMaxProcesses,
            Executables = executables,
            Uids = uids,
            PidFileOwner = (uint?)pidFileOwner,
        };
    }

    // exe: one absolute path or a list of them (a process whose binary was replaced reads "<path> (deleted)").
    private static List<string> Executables(YamlNodeReader t)
    {
        var result = new List<string>();
        foreach ((string value, YamlNode node) in ScalarOrList(t, "exe"))
        {
            if (!value.StartsWith('/') || value.EndsWith('/') || value.Contains('\0', StringComparison.Ordinal))
            {
                t.Error(node, "exe", $"'{value}' is not an absolute path to an executable (as /proc/<pid>/exe shows it, e.g. /usr/sbin/nginx)");
            }
            else
            {
                result.Add(value);
            }
        }

        return result;
    }

    private static List<uint> Uids(YamlNodeReader t, string key)
    {
        var result = new List<uint>();
        foreach ((string value, YamlNode node) in ScalarOrList(t, key))
        {
            if (uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint uid) && uid != uint.MaxValue)
            {
                result.Add(uid);
            }
            else
            {
                t.Error(node, key, $"'{value}' is not a numeric uid (0 to {uint.MaxValue - 1}); user names are not resolved");
            }
        }

        return result;
    }

    private static IReadOnlyList<(string Value, YamlNode Node)> ScalarOrList(YamlNodeReader t, string key) =>
        t.Raw(key) is YamlScalarNode { Value: { Length: > 0 } v } scalar ? [(v, scalar)] : t.ScalarList(key) ?? [];
}

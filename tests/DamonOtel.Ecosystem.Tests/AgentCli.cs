using System.Globalization;

namespace DamonOtel.Ecosystem.Tests;

/// <summary>
/// The agent's documented command-line interface, endpoints and metric catalog: the contract
/// the dashboards, rules and deployment files are written against.
/// </summary>
internal static class AgentCli
{
    public const string Binary = "/usr/local/bin/damon-otel";
    public const int DefaultPort = 9464;
    public const string DefaultConfigPath = "/etc/damon-otel/config.yaml";
    public const string DefaultStateDir = "/run/damon-otel";

    public static readonly string[] Endpoints = ["/metrics", "/healthz", "/readyz"];
    public static readonly string[] Workloads = ["steady", "stairs", "zigzag"];

    private enum Arity
    {
        Flag,
        Value,
        OptionalWorkload,
    }

    private static readonly Dictionary<string, Dictionary<string, Arity>> Commands = new(StringComparer.Ordinal)
    {
        ["run"] = new(StringComparer.Ordinal)
        {
            ["--config"] = Arity.Value,
            ["--simulate"] = Arity.OptionalWorkload,
            ["--listen"] = Arity.Value,
            ["--sysfs-root"] = Arity.Value,
            ["--tracefs-root"] = Arity.Value,
            ["--procfs-root"] = Arity.Value,
            ["--state-dir"] = Arity.Value,
        },
        ["check-config"] = new(StringComparer.Ordinal),
        ["snapshot"] = new(StringComparer.Ordinal)
        {
            ["--sysfs-root"] = Arity.Value,
            ["--no-refresh"] = Arity.Flag,
            ["--format"] = Arity.Value,
            ["--simulate"] = Arity.OptionalWorkload,
            ["--repeat"] = Arity.Value,
        },
        ["features"] = new(StringComparer.Ordinal)
        {
            ["--sysfs-root"] = Arity.Value,
            ["--tracefs-root"] = Arity.Value,
        },
    };

    /// <summary>Parsed command line: the command, its options (last wins) and positionals.</summary>
    public sealed record Parsed(string Command, IReadOnlyDictionary<string, string?> Options, IReadOnlyList<string> Positionals)
    {
        public string? Option(string name) => Options.TryGetValue(name, out var v) ? v : null;

        /// <summary>The port the agent listens on: --listen ADDR:PORT, else the default.</summary>
        public int ListenPort
        {
            get
            {
                var listen = Option("--listen");
                if (listen is null)
                {
                    return DefaultPort;
                }

                var colon = listen.LastIndexOf(':');
                return int.Parse(listen[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>Flags a command accepts (for messages and for comparing with the real parser's help).</summary>
    public static IReadOnlyCollection<string> FlagsOf(string command) => Commands[command].Keys;

    /// <summary>Validates arguments (without the binary name) against the documented CLI; returns the errors.</summary>
    public static List<string> Validate(IReadOnlyList<string> args, out Parsed? parsed)
    {
        var errors = new List<string>();
        parsed = null;
        if (args.Count == 0)
        {
            errors.Add("no command given");
            return errors;
        }

        var command = args[0];
        if (!Commands.TryGetValue(command, out var flags))
        {
            errors.Add($"unknown command '{command}' (known: {string.Join(", ", Commands.Keys)})");
            return errors;
        }

        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        var positionals = new List<string>();
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                positionals.Add(arg);
                continue;
            }

            string name = arg;
            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[..eq];
                inline = arg[(eq + 1)..];
            }

            if (!flags.TryGetValue(name, out var arity))
            {
                errors.Add($"'{command}' has no option '{name}' (known: {string.Join(", ", flags.Keys)})");
                continue;
            }

            string? value = inline;
            switch (arity)
            {
                case Arity.Flag:
                    if (inline is not null)
                    {
                        errors.Add($"option '{name}' takes no value");
                    }

                    break;
                case Arity.Value:
                    if (value is null)
                    {
                        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                        {
                            errors.Add($"option '{name}' needs a value");
                            break;
                        }

                        value = args[++i];
                    }

                    break;
                case Arity.OptionalWorkload:
                    if (value is null && i + 1 < args.Count && Workloads.Contains(args[i + 1]))
                    {
                        value = args[++i];
                    }

                    if (value is not null && !Workloads.Contains(value))
                    {
                        errors.Add($"unknown simulator workload '{value}' (known: {string.Join(", ", Workloads)})");
                    }

                    break;
            }

            options[name] = value;
        }

        if (command == "check-config" && positionals.Count != 1)
        {
            errors.Add($"check-config takes exactly one FILE, got {positionals.Count}");
        }
        else if (command != "check-config" && positionals.Count > 0)
        {
            errors.Add($"'{command}' takes no positional arguments, got: {string.Join(" ", positionals)}");
        }

        if (options.TryGetValue("--format", out var format) && format is not ("text" or "json"))
        {
            errors.Add($"--format must be text or json, got '{format}'");
        }

        if (options.TryGetValue("--listen", out var listen))
        {
            var colon = listen!.LastIndexOf(':');
            if (colon < 0 || !int.TryParse(listen[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                errors.Add($"--listen must be ADDR:PORT, got '{listen}'");
            }
        }

        parsed = new Parsed(command, options, positionals);
        return errors;
    }

    /// <summary>Splits a command line the way systemd and a shell would for the simple, unquoted-or-double-quoted lines used here.</summary>
    public static List<string> SplitCommandLine(string line)
    {
        var result = new List<string>();
        var current = new System.Text.StringBuilder();
        var inQuotes = false;
        var any = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                inQuotes = !inQuotes;
                any = true;
            }
            else if (char.IsWhiteSpace(c) && !inQuotes)
            {
                if (any)
                {
                    result.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }

        Assert.False(inQuotes, $"unbalanced quotes in: {line}");
        if (any)
        {
            result.Add(current.ToString());
        }

        return result;
    }
}

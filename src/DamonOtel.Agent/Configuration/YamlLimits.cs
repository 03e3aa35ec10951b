using System.Globalization;
using DamonOtel.Damon.IO;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

/// <summary>
/// Loads the YAML of the config and the web_config within limits (docs/configuration.md,
/// "Limits"): the file size, the nesting depth (YamlDotNet builds nodes recursively, so ~40k
/// nested brackets overflow the stack, which no handler can catch) and the number of nodes,
/// aliases counted as the nodes they stand for (so a few lines of anchors cannot make the
/// reader walk millions). Every problem becomes a <see cref="ConfigError"/>.
/// </summary>
internal static class YamlLimits
{
    /// <summary>The largest config or web_config file (real ones are a few KiB).</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>The deepest nesting of mappings and lists (the config needs 7).</summary>
    public const int MaxDepth = 64;

    /// <summary>The most nodes a file may stand for, aliases expanded.</summary>
    public const int MaxNodes = 100_000;

    // Followed: Kubernetes ConfigMap volumes are symbolic links into ..data.
    private static readonly SafeReadOptions FileOptions = new() { MaxBytes = MaxFileBytes, FollowSymlink = true };

    /// <summary>Reads a config file within the size limit; throws <see cref="SafeFileException"/>.</summary>
    public static string ReadFile(string path) => SafeFile.ReadText(path, FileOptions);

    /// <summary>
    /// The first document's root node (null for an empty file), or false with the syntax or
    /// limit error added to <paramref name="errors"/>.
    /// </summary>
    public static bool TryLoad(string yaml, string file, List<ConfigError> errors, out YamlNode? root)
    {
        root = null;
        var stream = new YamlStream();
        var parser = new LimitedParser(new Parser(new StringReader(yaml)));
        try
        {
            stream.Load(parser);
        }
        catch (ArgumentException)
        {
            // YamlDotNet 16.3's node loader throws this when the parser hands it an event that
            // cannot start a node (found by the config fuzzer); it is a syntax error of the file.
            Mark at = parser.Current?.Start ?? parser.LastGood;
            errors.Add(new ConfigError(file, (int)at.Line, (int)at.Column, "(syntax)", "malformed YAML before this point (a stray alias or anchor?)"));
            return false;
        }
        catch (YamlException e)
        {
            errors.Add(new ConfigError(file, (int)e.Start.Line, (int)e.Start.Column, "(syntax)", OneLine(e.InnerException is YamlException inner ? inner.Message : e.Message)));
            return false;
        }

        root = stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
        return true;
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    /// <summary>Passes the parser's events through, counting depth and (alias-expanded) nodes.</summary>
    private sealed class LimitedParser(IParser inner) : IParser
    {
        private readonly Stack<(string? Anchor, long NodesBefore)> open = new();
        private readonly Dictionary<string, long> anchorNodes = new(StringComparer.Ordinal);
        private long nodes;

        private Mark lastGood = Mark.Empty;

        public Mark LastGood => lastGood;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            bool more;
            try
            {
                more = inner.MoveNext();
            }
            catch (InvalidOperationException e)
            {
                // YamlDotNet 16.3's scanner throws this on some unclosed flow collections
                // (e.g. "a:\n  b: {x: 1\n  c: {y: 0}"); it is a syntax error of the file.
                throw new YamlException(lastGood, lastGood, "malformed YAML after this point (unclosed '[' or '{'?)", e);
            }

            if (!more)
            {
                return false;
            }

            lastGood = inner.Current?.End ?? lastGood;

            switch (inner.Current)
            {
                case MappingStart or SequenceStart:
                    var start = (NodeEvent)inner.Current;
                    open.Push((start.Anchor.IsEmpty ? null : start.Anchor.Value, nodes));
                    Count(1, start);
                    if (open.Count > MaxDepth)
                    {
                        throw new YamlException(start.Start, start.End, string.Create(CultureInfo.InvariantCulture, $"nested deeper than {MaxDepth} levels"));
                    }

                    break;
                case MappingEnd or SequenceEnd:
                    if (open.TryPop(out (string? Anchor, long NodesBefore) closed) && closed.Anchor is not null)
                    {
                        anchorNodes[closed.Anchor] = nodes - closed.NodesBefore;
                    }

                    break;
                case Scalar scalar:
                    Count(1, scalar);
                    if (!scalar.Anchor.IsEmpty)
                    {
                        anchorNodes[scalar.Anchor.Value] = 1;
                    }

                    break;
                case AnchorAlias alias:
                    Count(anchorNodes.GetValueOrDefault(alias.Value.Value, 1), alias);
                    break;
                default:
                    break;
            }

            return true;
        }

        private void Count(long n, ParsingEvent at)
        {
            nodes += n;
            if (nodes > MaxNodes)
            {
                throw new YamlException(at.Start, at.End, string.Create(CultureInfo.InvariantCulture, $"more than {MaxNodes} values (aliases count as what they repeat)"));
            }
        }
    }
}

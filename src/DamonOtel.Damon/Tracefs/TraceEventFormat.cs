using System.Globalization;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Damon.Tracefs;

/// <summary>One <c>field:&lt;decl&gt;; offset:N; size:N; signed:N;</c> entry of a tracefs format file.</summary>
public sealed record TraceFormatField(string Name, string Declaration, int Offset, int Size, bool IsSigned);

/// <summary>
/// A parsed <c>events/&lt;system&gt;/&lt;event&gt;/format</c> file: the event ID and where each
/// field sits in a binary record. Offsets differ between kernels and configs, so they are
/// always read from this file, never assumed.
/// </summary>
public sealed class TraceEventFormat
{
    private readonly Dictionary<string, TraceFormatField> byName;

    private TraceEventFormat(string name, int id, IReadOnlyList<TraceFormatField> fields)
    {
        Name = name;
        Id = id;
        Fields = fields;
        byName = new Dictionary<string, TraceFormatField>(StringComparer.Ordinal);
        foreach (TraceFormatField f in fields)
        {
            byName[f.Name] = f;
        }
    }

    public string Name { get; }

    /// <summary>The event's type id (common_type), different per boot and kernel.</summary>
    public int Id { get; }

    public IReadOnlyList<TraceFormatField> Fields { get; }

    /// <summary>Parses a format file. <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="KernelFormatException">A line that does not parse, or no ID.</exception>
    public static TraceEventFormat Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        string name = string.Empty;
        int id = -1;
        var fields = new List<TraceFormatField>();
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].Trim();
            if (line.StartsWith("name:", StringComparison.Ordinal))
            {
                name = line[5..].Trim();
            }
            else if (line.StartsWith("ID:", StringComparison.Ordinal))
            {
                if (!int.TryParse(line.AsSpan(3).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out id))
                {
                    throw new KernelFormatException($"{source}:{n + 1}: bad ID line '{line}'") { Path = source };
                }
            }
            else if (line.StartsWith("field:", StringComparison.Ordinal))
            {
                fields.Add(ParseFieldLine(line, source, n + 1));
            }
        }

        if (id < 0)
        {
            throw new KernelFormatException($"{source}: no 'ID:' line") { Path = source };
        }

        return new TraceEventFormat(name, id, fields);
    }

    /// <summary>Parses the field lines of a header file (events/header_page uses the same syntax).</summary>
    public static IReadOnlyList<TraceFormatField> ParseFields(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fields = new List<TraceFormatField>();
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].Trim();
            if (line.StartsWith("field:", StringComparison.Ordinal))
            {
                fields.Add(ParseFieldLine(line, source, n + 1));
            }
        }

        return fields;
    }

    public TraceFormatField? Find(string fieldName) => byName.GetValueOrDefault(fieldName);

    /// <summary>The field, which must exist and be 1, 2, 4 or 8 bytes wide.</summary>
    /// <exception cref="KernelFormatException">Missing or of an unusable size.</exception>
    public TraceFormatField Require(string fieldName, string source)
    {
        TraceFormatField f = Find(fieldName) ?? throw new KernelFormatException($"{source}: event '{Name}' has no field '{fieldName}'") { Path = source };
        if (f.Size is not (1 or 2 or 4 or 8))
        {
            throw new KernelFormatException($"{source}: field '{fieldName}' has size {f.Size}, expected 1, 2, 4 or 8") { Path = source };
        }

        return f;
    }

    // "field:unsigned long start;	offset:24;	size:8;	signed:0;"
    private static TraceFormatField ParseFieldLine(string line, string source, int lineNo)
    {
        string[] parts = line.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3 || !parts[0].StartsWith("field:", StringComparison.Ordinal))
        {
            throw new KernelFormatException($"{source}:{lineNo}: bad field line '{line}'") { Path = source };
        }

        string decl = parts[0][6..].Trim();
        string fieldName = decl;
        int space = decl.LastIndexOfAny([' ', '\t', '*']);
        if (space >= 0)
        {
            fieldName = decl[(space + 1)..];
        }

        int bracket = fieldName.IndexOf('[', StringComparison.Ordinal);
        if (bracket >= 0)
        {
            fieldName = fieldName[..bracket];
        }

        int offset = -1;
        int size = -1;
        bool signed = false;
        for (int i = 1; i < parts.Length; i++)
        {
            int colon = parts[i].IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                throw new KernelFormatException($"{source}:{lineNo}: bad attribute '{parts[i]}' in '{line}'") { Path = source };
            }

            string key = parts[i][..colon].Trim();
            if (!int.TryParse(parts[i].AsSpan(colon + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            {
                throw new KernelFormatException($"{source}:{lineNo}: bad number in '{parts[i]}' of '{line}'") { Path = source };
            }

            switch (key)
            {
                case "offset":
                    offset = value;
                    break;
                case "size":
                    size = value;
                    break;
                case "signed":
                    signed = value != 0;
                    break;
                default:
                    break;
            }
        }

        if (fieldName.Length == 0 || offset < 0 || size < 0)
        {
            throw new KernelFormatException($"{source}:{lineNo}: field line lacks a name, offset or size: '{line}'") { Path = source };
        }

        return new TraceFormatField(fieldName, decl, offset, size, signed);
    }
}

using System.Globalization;

namespace DamonOtel.Simulator;

internal static class VDirExtensions
{
    public static ValueFile U64(this VDir d, string name, ulong initial = 0) => d.Add(new ValueFile(name, ValueKind.U64, initial.ToString(CultureInfo.InvariantCulture)));

    public static ValueFile U32(this VDir d, string name, uint initial = 0) => d.Add(new ValueFile(name, ValueKind.U32, initial.ToString(CultureInfo.InvariantCulture)));

    public static ValueFile I32(this VDir d, string name, int initial = 0) => d.Add(new ValueFile(name, ValueKind.I32, initial.ToString(CultureInfo.InvariantCulture)));

    public static ValueFile Bool(this VDir d, string name, bool initial = false) => d.Add(new ValueFile(name, ValueKind.Bool, initial ? "Y" : "N"));

    public static ValueFile Keyword(this VDir d, string name, string initial, IReadOnlyCollection<string> keywords) => d.Add(new ValueFile(name, ValueKind.Keyword, initial, keywords));

    public static ValueFile Text(this VDir d, string name, string initial = "") => d.Add(new ValueFile(name, ValueKind.Text, initial));

    public static string Line(ulong v) => v.ToString(CultureInfo.InvariantCulture) + "\n";
}

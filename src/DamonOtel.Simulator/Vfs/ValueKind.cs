namespace DamonOtel.Simulator;

internal enum ValueKind
{
    U64,
    U32,
    I32,
    Bool,
    Keyword,
    Text,
}

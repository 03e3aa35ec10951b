using System.Text.Json.Serialization;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Kdamonds;

/// <summary>
/// Source-generated JSON of a <see cref="KdamondSpec"/>, the input of the spec hash the
/// ownership record keeps (state_dir/kdamonds.json). NativeAOT has no reflection-based
/// serializer; the default options here produce the same bytes the reflection serializer did,
/// so a hash written by an earlier (JIT) agent still matches after an upgrade.
/// </summary>
[JsonSerializable(typeof(KdamondSpec))]
internal sealed partial class KdamondSpecJsonContext : JsonSerializerContext;

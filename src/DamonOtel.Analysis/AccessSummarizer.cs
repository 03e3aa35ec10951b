using DamonOtel.Damon.Model;

namespace DamonOtel.Analysis;

/// <summary>
/// Pure computation snapshot -> <see cref="AccessSummary"/>. Holds scratch buffers so that,
/// after warm-up, summarising allocates nothing. Not thread-safe: one per worker.
/// </summary>
public sealed class AccessSummarizer(AccessOptions options)
{
    public AccessOptions Options { get; } = options;

    public AccessSummary CreateSummary() => new(Options);

    /// <summary>Summarises one snapshot into a new summary.</summary>
    public AccessSummary Summarize(ReadOnlySpan<DamonRegion> regions, Intervals intervals, ulong addrUnit = 1)
    {
        var summary = CreateSummary();
        SummarizeInto(regions, intervals, addrUnit, summary);
        return summary;
    }

    /// <summary>Summarises one snapshot into <paramref name="into"/>, which must come from <see cref="CreateSummary"/>.</summary>
    public void SummarizeInto(ReadOnlySpan<DamonRegion> regions, Intervals intervals, ulong addrUnit, AccessSummary into)
    {
        throw new NotImplementedException("analysis: to be written (issue 3)");
    }
}

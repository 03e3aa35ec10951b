using DamonOtel.Damon.Model;

namespace DamonOtel.Simulator;

// intervals_goal auto-tuning (6.15+) and the kernel's feedback loop it shares with quota goals.
internal sealed partial class MonitorContext
{
    private void TuneIntervals(long nowUs)
    {
        IntervalsGoal g = Config.Goal;
        if (!g.Enabled || profile == KernelProfile.V6_12)
        {
            return;
        }

        if (++aggregationsSinceTune < (int)g.Aggrs)
        {
            return;
        }

        aggregationsSinceTune = 0;
        decimal events = 0;
        decimal maxEvents = 0;
        foreach (TargetState t in Targets)
        {
            foreach (Region r in t.Regions)
            {
                events += (decimal)r.Size * r.LastNrAccesses;
                maxEvents += (decimal)r.Size * MaxNrAccesses;
            }
        }

        decimal target = Math.Max(1, maxEvents * g.AccessBp / 10000);
        ulong score = (ulong)Math.Min(events * 10000 / target, ulong.MaxValue / 2);
        ulong adaptationBp = FeedLoop(100_000_000, score) / 10000;
        ulong ratio = (ulong)(AggrUs / Math.Max(1, SampleUs));
        ulong sample = (ulong)SampleUs * adaptationBp / 10000;
        sample = Math.Clamp(sample, g.MinSampleUs, Math.Max(g.MinSampleUs, g.MaxSampleUs));
        if (sample == 0 || (long)sample == SampleUs)
        {
            return;
        }

        long oldAggr = AggrUs;
        SampleUs = (long)sample;
        AggrUs = (long)(sample * ratio);
        RescaleAges(oldAggr);
        trace.IntervalsTune(this, nowUs, sample);
    }

    // damon_feed_loop_next_input(): proportional feedback towards score 10000.
    internal static ulong FeedLoop(ulong lastInput, ulong score)
    {
        const ulong goal = 10000;
        const ulong minInput = 10000;
        if (score == goal)
        {
            return lastInput;
        }

        if (score >= goal * 2)
        {
            return minInput;
        }

        bool over = score > goal;
        ulong diff = over ? score - goal : goal - score;
        ulong comp = lastInput < ulong.MaxValue / diff ? lastInput * diff / goal : lastInput / goal * diff;
        if (over)
        {
            return Math.Max(lastInput > comp ? lastInput - comp : 0, minInput);
        }

        return lastInput < ulong.MaxValue - comp ? lastInput + comp : ulong.MaxValue;
    }
}

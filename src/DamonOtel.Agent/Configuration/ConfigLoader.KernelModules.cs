using DamonOtel.Damon.Modules;

namespace DamonOtel.Agent.Configuration;

// kernel_modules: {take_over: [damon_stat, damon_reclaim, damon_lru_sort]}
internal static partial class ConfigLoader
{
    private static KernelModulesConfig ReadKernelModules(YamlNodeReader m)
    {
        var takeOver = new List<string>();
        foreach ((string value, YamlDotNet.RepresentationModel.YamlNode node) in m.ScalarList("take_over") ?? [])
        {
            if (!ExclusiveModules.IsKnown(value))
            {
                m.Error(node, "take_over", $"'{value}' is not a DAMON module that holds DAMON exclusively (known: {string.Join(", ", ExclusiveModules.Names)})");
            }
            else if (takeOver.Contains(value))
            {
                m.Error(node, "take_over", $"'{value}' is listed twice");
            }
            else
            {
                takeOver.Add(value);
            }
        }

        m.RejectUnknownKeys();
        return new KernelModulesConfig { TakeOver = takeOver };
    }
}

using System.Globalization;
using DamonOtel.Agent.Kdamonds;
using DamonOtel.Damon.IO;
using DamonOtel.Damon.Sysfs;

namespace DamonOtel.Agent.Cli;

/// <summary>A kdamond as the commands name it: the agent's config name, or its index under kdamonds/.</summary>
internal sealed record NamedKdamond(string Name, int Index, bool Owned);

/// <summary>
/// Which kdamonds the agent owns, by its ownership record under the state directory
/// (OwnershipStore): a recorded kdamond is the agent's only while it is the very thread the
/// agent started (same pid), or while it is stopped. Others' kdamonds go by their index.
/// </summary>
internal static class KdamondNames
{
    public static IReadOnlyList<NamedKdamond> Owned(string stateDir, IKernelFs fs, KernelRoots roots)
    {
        OwnershipRecord? record = new OwnershipStore(stateDir).Load();
        if (record is null)
        {
            return [];
        }

        var reader = new DamonSysfsReader(fs, roots);
        var result = new List<NamedKdamond>();
        foreach (OwnedKdamond o in record.Kdamonds)
        {
            try
            {
                if (fs.DirectoryExists(Path.Combine(roots.Kdamonds, o.Index.ToString(CultureInfo.InvariantCulture))) &&
                    (!reader.ReadState(o.Index) || reader.ReadPid(o.Index) == o.KdamondPid))
                {
                    result.Add(new NamedKdamond(o.Name, o.Index, Owned: true));
                }
            }
            catch (KernelIoException)
            {
                // Gone while looking (nr_kdamonds rewritten by another tool): not ours any more.
            }
        }

        return result;
    }

    /// <summary>NAME as an owned kdamond's name, else as an index; null with the reason when neither.</summary>
    public static NamedKdamond? Find(string name, IReadOnlyList<NamedKdamond> owned, IKernelFs fs, KernelRoots roots, out string error)
    {
        error = string.Empty;
        if (owned.FirstOrDefault(o => o.Name == name) is NamedKdamond byName)
        {
            return byName;
        }

        if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int index) &&
            fs.DirectoryExists(Path.Combine(roots.Kdamonds, name)))
        {
            return owned.FirstOrDefault(o => o.Index == index) ?? new NamedKdamond(name, index, Owned: false);
        }

        string known = owned.Count == 0 ? "no kdamond of the agent's" : "the agent's: " + string.Join(", ", owned.Select(o => o.Name));
        error = $"no kdamond named '{name}' ({known}; others go by their index under {roots.Kdamonds})";
        return null;
    }
}

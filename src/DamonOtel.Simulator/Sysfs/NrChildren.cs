using System.Globalization;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

/// <summary>Children 0..N-1 of a directory, recreated with defaults whenever its nr_* file is written.</summary>
internal sealed class NrChildren<T>
{
    private readonly VDir dir;
    private readonly Func<VDir, int, T> factory;
    private readonly Func<string, Errno>? check;

    public NrChildren(VDir dir, string nrName, Func<VDir, int, T> factory, Func<string, Errno>? check = null)
    {
        this.dir = dir;
        this.factory = factory;
        this.check = check;
        dir.Func(nrName, () => Items.Count.ToString(CultureInfo.InvariantCulture) + "\n", text =>
        {
            string path = dir.FullPath + "/" + nrName;
            long n = KernelParse.Long(text, int.MinValue, int.MaxValue, path);
            if (n < 0)
            {
                throw new KernelIoException(Errno.EINVAL, path, "write");
            }

            Errno e = check?.Invoke(path) ?? Errno.None;
            if (e != Errno.None)
            {
                throw new KernelIoException(e, path, "write");
            }

            Resize((int)n);
        });
    }

    public List<T> Items { get; } = [];

    public void Resize(int n)
    {
        for (int i = 0; i < Items.Count; i++)
        {
            dir.Remove(i.ToString(CultureInfo.InvariantCulture));
        }

        Items.Clear();
        for (int i = 0; i < n; i++)
        {
            Items.Add(factory(dir.Dir(i.ToString(CultureInfo.InvariantCulture)), i));
        }
    }
}

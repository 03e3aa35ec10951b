using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

internal abstract class VFile(string name) : VNode(name)
{
    public abstract string Read();

    public virtual void Write(string text) => throw new KernelIoException(Errno.EACCES, FullPath, "write");
}

using System.Text;
using DamonOtel.Damon.IO;

namespace DamonOtel.Simulator;

// IKernelFs over the virtual tree: every read, write, listing and directory change resolves a
// path to a node under the one lock.
public sealed partial class SimulatedKernel
{
    public string ReadText(string path)
    {
        Faults.WaitIfHung(path);
        lock (Gate)
        {
            VNode n = Resolve(path, "read");
            if (n is not VFile f)
            {
                throw new KernelIoException(Errno.EISDIR, path, "read");
            }

            return Faults.BeforeRead(path) ?? f.Read();
        }
    }

    public int ReadBytes(string path, Span<byte> buffer)
    {
        string text = ReadText(path);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        int n = Math.Min(bytes.Length, buffer.Length);
        bytes.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public void WriteText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        lock (Gate)
        {
            VNode n = Resolve(path, "write");
            if (n is not VFile f)
            {
                throw new KernelIoException(Errno.EISDIR, path, "write");
            }

            f.Write(text);
        }
    }

    public IReadOnlyList<string> ListDirectory(string path)
    {
        lock (Gate)
        {
            if (Resolve(path, "list") is not VDir d)
            {
                throw new KernelIoException(Errno.ENOTDIR, path, "list");
            }

            var names = d.Children.Keys.ToList();
            Faults.AfterList(d);
            return names;
        }
    }

    public bool FileExists(string path)
    {
        lock (Gate)
        {
            return TryResolve(path, out VNode? n) && n is VFile;
        }
    }

    public bool DirectoryExists(string path)
    {
        lock (Gate)
        {
            return TryResolve(path, out VNode? n) && n is VDir;
        }
    }

    public void CreateDirectory(string path)
    {
        lock (Gate)
        {
            (VDir parent, string name) = Parent(path, "mkdir");
            if (parent.Children.ContainsKey(name))
            {
                throw new KernelIoException(Errno.EEXIST, path, "mkdir");
            }

            if (parent.OnMkdir is null)
            {
                throw new KernelIoException(Errno.EPERM, path, "mkdir");
            }

            parent.OnMkdir(name);
        }
    }

    public void RemoveDirectory(string path)
    {
        lock (Gate)
        {
            if (Resolve(path, "rmdir") is not VDir d)
            {
                throw new KernelIoException(Errno.ENOTDIR, path, "rmdir");
            }

            if (d.Parent?.OnRmdir is null)
            {
                throw new KernelIoException(Errno.EPERM, path, "rmdir");
            }

            d.Parent.OnRmdir(d);
        }
    }

    public string ReadLink(string path)
    {
        lock (Gate)
        {
            VNode n = Resolve(path, "readlink");
            if (n is not VLink link)
            {
                throw new KernelIoException(Errno.EINVAL, path, "readlink");
            }

            return link.Target ?? throw new KernelIoException(Errno.ENOENT, path, "readlink");
        }
    }

    public Stream OpenPipe(string path)
    {
        lock (Gate)
        {
            VNode n = Resolve(path, "open");
            if (n is not VFile f || !Tracing.TryGetInstance(f, out TracefsInstance instance))
            {
                throw new KernelIoException(Errno.EINVAL, path, "open (not a trace_pipe)");
            }

            instance.OpenPipes++;
            return new PipeStream(this, instance);
        }
    }

    private static string[] Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    private bool TryResolve(string path, out VNode? node)
    {
        node = null;
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            return false;
        }

        VNode cur = root;
        foreach (string part in Split(path))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                cur = cur.Parent ?? cur;
                continue;
            }

            if (cur is not VDir d || !d.Children.TryGetValue(part, out VNode? next))
            {
                return false;
            }

            cur = next;
        }

        node = cur;
        return true;
    }

    private VNode Resolve(string path, string op)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            throw new KernelIoException(Errno.EINVAL, path ?? string.Empty, op + " (path must be absolute)");
        }

        return TryResolve(path, out VNode? n) ? n! : throw new KernelIoException(Errno.ENOENT, path, op);
    }

    private (VDir Parent, string Name) Parent(string path, string op)
    {
        string trimmed = path.TrimEnd('/');
        int slash = trimmed.LastIndexOf('/');
        string parentPath = slash <= 0 ? "/" : trimmed[..slash];
        return Resolve(parentPath, op) is VDir d ? (d, trimmed[(slash + 1)..]) : throw new KernelIoException(Errno.ENOTDIR, path, op);
    }

    private VDir MakeDirs(string path)
    {
        VDir d = root;
        foreach (string part in Split(path))
        {
            d = d.Dir(part);
        }

        return d;
    }
}

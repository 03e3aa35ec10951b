namespace DamonOtel.Simulator;

internal sealed class FuncFile(string name, Func<string> read, Action<string>? write) : VFile(name)
{
    public override string Read() => read();

    public override void Write(string text)
    {
        if (write is null)
        {
            base.Write(text);
            return;
        }

        write(text);
    }
}

using System;
using System.Net;
using System.Net.Sockets;
using System.Threading;

// A test-only client that keeps sending while it reads the echo on another thread, as a client does that streams
// into a server which then cuts it off. It records how many bytes it read and how the reading ended: "EOF" (the
// server closed cleanly) or the socket error (ConnectionReset when a reset threw echo away).
public sealed class KeepSendingClient : IDisposable
{
    private readonly Socket _socket;
    private readonly Thread _writer;
    private readonly Thread _reader;
    private readonly int _writerQuietMs;
    private readonly int _readerQuietMs;
    private readonly int _readBytesPerSecond;
    private volatile bool _done;

    public long BytesSent;
    public long BytesRead;
    public string End = "running";
    public string WriterEnd = "running";

    // firstBytes are sent at once (and not read); after writerQuietMs the client sends flat out, and after
    // readerQuietMs it reads. Sending before reading again is what makes a server's reset throw echo away.
    public KeepSendingClient(int port, int firstBytes, int writerQuietMs, int readerQuietMs, int timeoutMs)
        : this(port, firstBytes, writerQuietMs, readerQuietMs, timeoutMs, 0)
    {
    }

    // readBytesPerSecond > 0 makes a slow reader: it reads 8 KiB at a time, paced to that rate.
    public KeepSendingClient(int port, int firstBytes, int writerQuietMs, int readerQuietMs, int timeoutMs, int readBytesPerSecond)
    {
        _readBytesPerSecond = readBytesPerSecond;
        _writerQuietMs = writerQuietMs;
        _readerQuietMs = readerQuietMs;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _socket.ReceiveTimeout = timeoutMs;
        _socket.SendTimeout = timeoutMs;
        _socket.NoDelay = true;
        _socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        if (firstBytes > 0)
        {
            var first = new byte[firstBytes];
            int sent = 0;
            while (sent < firstBytes)
                sent += _socket.Send(first, sent, firstBytes - sent, SocketFlags.None);
            BytesSent = sent;
        }
        _writer = new Thread(Write) { IsBackground = true };
        _reader = new Thread(Read) { IsBackground = true };
        _writer.Start();
        _reader.Start();
    }

    private void Write()
    {
        try
        {
            Thread.Sleep(_writerQuietMs);
            var chunk = new byte[16384];
            while (!_done)
                BytesSent += _socket.Send(chunk, 0, chunk.Length, SocketFlags.None);
            WriterEnd = "stopped";
        }
        catch (SocketException ex) { WriterEnd = ex.SocketErrorCode.ToString(); }
        catch (ObjectDisposedException) { WriterEnd = "disposed"; }
    }

    private void Read()
    {
        try
        {
            Thread.Sleep(_readerQuietMs);
            var buffer = new byte[_readBytesPerSecond > 0 ? 8192 : 65536];
            var watch = System.Diagnostics.Stopwatch.StartNew();
            int n;
            while ((n = _socket.Receive(buffer, 0, buffer.Length, SocketFlags.None)) > 0)
            {
                BytesRead += n;
                if (_readBytesPerSecond > 0)
                {
                    // Paced: sleep until the bytes read so far are due at the rate.
                    var due = (int)(BytesRead * 1000 / _readBytesPerSecond - watch.ElapsedMilliseconds);
                    if (due > 0)
                        Thread.Sleep(due);
                }
            }
            End = "EOF";
        }
        catch (SocketException ex) { End = ex.SocketErrorCode.ToString(); }
        catch (ObjectDisposedException) { End = "disposed"; }
        _done = true;
    }

    // Waits for the reading to end, then for the writer to stop, then closes: true when both ended in time.
    public bool Wait(int timeoutMs)
    {
        bool ended = _reader.Join(timeoutMs) && _writer.Join(timeoutMs);
        _socket.Dispose();
        return ended;
    }

    public void Dispose()
    {
        _done = true;
        _socket.Dispose();
    }
}

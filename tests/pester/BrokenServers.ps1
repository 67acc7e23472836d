<#
.SYNOPSIS
    Small misbehaving echo servers for the client tests, run on threads inside the test process.
.DESCRIPTION
    New-BrokenEchoServer -Behaviour FlipByte|DropTail|CloseEarly|Silent|Reset -Offset N starts one on 127.0.0.1 and a
    free port ($server.Port); $server.Accepted counts its clients; $server.Dispose() stops it and closes them. Each client gets its own thread, so a
    silent server stalls only its own client. The offset is a position in the client's byte stream:
      FlipByte    echoes everything, with the byte at Offset inverted.
      DropTail    echoes the bytes before Offset and swallows the rest, keeping the connection open.
      CloseEarly  echoes the bytes before Offset, then closes its side (cleanly: no reset).
      Silent      reads everything and never answers.
      Reset       reads the bytes before Offset, then resets the connection.
      Duplicate   echoes every chunk it reads twice.
      ExtraByte   echoes everything, with one byte more (0x2A) right after the byte at Offset.
      TrailAfterFin echoes everything faithfully; after the client's FIN it sends 3 more bytes, then closes.
      Drip        echoes one byte per second (Dispose wakes it), reading the next chunk only when one is echoed.
      HalfAndClose echoes the first half of the first chunk it reads and closes at once, without reading the rest
                  (so that unread input makes the close a reset, as a crashing server's would).
#>

if (-not ('EchoPSTest.BrokenEchoServer' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace EchoPSTest
{
    public sealed class BrokenEchoServer : IDisposable
    {
        private readonly Socket _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<Socket> _clients = new List<Socket>();
        private readonly string _behaviour;
        private readonly long _offset;
        private readonly ManualResetEvent _stopped = new ManualResetEvent(false);

        public BrokenEchoServer(string behaviour, long offset)
        {
            _behaviour = behaviour;
            _offset = offset;
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(16);
            Port = ((IPEndPoint)_listener.LocalEndPoint).Port;
            new Thread(AcceptLoop) { IsBackground = true }.Start();
        }

        private int _accepted;

        public int Port { get; private set; }
        public int Accepted { get { return Volatile.Read(ref _accepted); } }
        public string Behaviour { get { return _behaviour; } }

        public void Dispose()
        {
            _stopped.Set();
            _listener.Dispose();
            lock (_clients)
            {
                foreach (var client in _clients) client.Dispose();
                _clients.Clear();
            }
        }

        private void AcceptLoop()
        {
            try
            {
                while (true)
                {
                    var client = _listener.Accept();
                    lock (_clients) _clients.Add(client);
                    Interlocked.Increment(ref _accepted);
                    new Thread(() => Serve(client)) { IsBackground = true }.Start();
                }
            }
            catch (Exception) { /* listener closed: the server is stopping */ }
        }

        private void Serve(Socket client)
        {
            var buffer = new byte[64 * 1024];
            long position = 0;
            try
            {
                while (true)
                {
                    int n = client.Receive(buffer);
                    if (n == 0)
                    {
                        if (_behaviour == "TrailAfterFin")
                        {
                            Send(client, new byte[] { 1, 2, 3 }, 3);
                            client.Shutdown(SocketShutdown.Send);
                        }
                        break;
                    }
                    int keep = (int)Math.Max(0, Math.Min(n, _offset - position));
                    switch (_behaviour)
                    {
                        case "FlipByte":
                            if (_offset >= position && _offset < position + n) buffer[_offset - position] ^= 0xFF;
                            Send(client, buffer, n);
                            break;
                        case "DropTail":
                            Send(client, buffer, keep);
                            break;
                        case "CloseEarly":
                            Send(client, buffer, keep);
                            if (position + n >= _offset)
                            {
                                client.Shutdown(SocketShutdown.Send);
                                while (client.Receive(buffer) > 0) { } // drain, so that closing sends no reset
                                return;
                            }
                            break;
                        case "Reset":
                            if (position + n >= _offset)
                            {
                                client.LingerState = new LingerOption(true, 0);
                                client.Close();
                                return;
                            }
                            break;
                        case "Silent":
                            break;
                        case "Duplicate":
                            Send(client, buffer, n);
                            Send(client, buffer, n);
                            break;
                        case "ExtraByte":
                            if (_offset >= position && _offset < position + n)
                            {
                                int head = (int)(_offset - position) + 1;
                                Send(client, buffer, head);
                                Send(client, new byte[] { 0x2A }, 1);
                                Send(client, buffer, head, n - head);
                            }
                            else Send(client, buffer, n);
                            break;
                        case "TrailAfterFin":
                            Send(client, buffer, n);
                            break;
                        case "HalfAndClose":
                            Send(client, buffer, Math.Max(1, n / 2));
                            return; // the finally closes the socket: unread input resets the connection
                        case "Drip":
                            for (int i = 0; i < n; i++)
                            {
                                Send(client, buffer, i, 1);
                                if (_stopped.WaitOne(1000)) return;
                            }
                            break;
                    }
                    position += n;
                }
            }
            catch (Exception) { /* the client went away or the server is stopping */ }
            finally
            {
                lock (_clients) _clients.Remove(client);
                client.Dispose();
            }
        }

        private static void Send(Socket client, byte[] buffer, int count)
        {
            Send(client, buffer, 0, count);
        }

        private static void Send(Socket client, byte[] buffer, int offset, int count)
        {
            int sent = 0;
            while (sent < count) sent += client.Send(buffer, offset + sent, count - sent, SocketFlags.None);
        }
    }
}
'@
}

function New-BrokenEchoServer {
    param(
        [Parameter(Mandatory)] [ValidateSet('FlipByte', 'DropTail', 'CloseEarly', 'Silent', 'Reset', 'Duplicate', 'ExtraByte', 'TrailAfterFin', 'Drip', 'HalfAndClose')] [string] $Behaviour,
        [long] $Offset = 0
    )
    [EchoPSTest.BrokenEchoServer]::new($Behaviour, $Offset)
}

function New-FullBacklogListener {
    # A listener that never accepts, its accept queue already full: the kernel drops further SYNs, so a connect
    # gets no answer at all, as behind a firewall that drops packets.
    $sockets = [System.Collections.Generic.List[System.Net.Sockets.Socket]]::new()
    $listener = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
    $sockets.Add($listener)
    $listener.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0))
    $listener.Listen(0)
    $port = $listener.LocalEndPoint.Port
    foreach ($i in 1..2) {
        $filler = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $sockets.Add($filler)
        $null = $filler.ConnectAsync('127.0.0.1', $port).Wait(100)
    }
    [pscustomobject]@{ Port = $port; Sockets = $sockets } |
        Add-Member -MemberType ScriptMethod -Name Dispose -Value { $this.Sockets | ForEach-Object Dispose } -PassThru
}

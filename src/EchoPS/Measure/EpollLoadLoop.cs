using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EchoPS.Client;
using EchoPS.Server;

namespace EchoPS.Measure
{
    /// <summary>
    /// The load step's clients driven by one loop on the calling thread over non-blocking sockets and epoll (Linux),
    /// level-triggered, with the C library's send and recv on the descriptors: per round trip one send, one recv and a
    /// share of one epoll_wait, nothing allocated (the latency list grows by doubling), no thread woken but this one.
    /// </summary>
    /// <remarks>
    /// The runtime's asynchronous sockets cost the measurer about 34 µs of CPU per round trip here (pinned, 10 and 100
    /// clients), about three times the C server's: every echo wakes the runtime's epoll thread, which queues the
    /// continuation to a pool thread, which sends through the async machinery. The sockets here are .NET sockets (made,
    /// connected and closed by the runtime) that never start an asynchronous operation, so the runtime's own epoll
    /// thread never hears of them; they are this loop's alone (a cancel is seen within 100 ms, and they close here).
    /// </remarks>
    internal sealed class EpollLoadLoop : ILoadLoop
    {
        private const int EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10;
        private const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3, EPOLL_CLOEXEC = 0x80000;
        private const int EINTR = 4, EAGAIN = 11, MSG_NOSIGNAL = 0x4000;
        private const int MaxEvents = 256, SampleMs = 100;

        /// <summary>
        /// MethodImplOptions.AggressiveOptimization (.NET Core 3.0+, not named in netstandard2.0; older runtimes ignore
        /// it): the loop's methods are compiled fully optimized at once, not first unoptimized and then again by the
        /// tiering thread while the step runs (whose CPU the step counts).
        /// </summary>
        private const MethodImplOptions Optimized = (MethodImplOptions)512;

        /// <summary>struct epoll_event: packed (12 bytes) on x86-64, 16 bytes elsewhere; the data's low word holds the client's index.</summary>
        private static readonly int EventInts = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 3 : 4;
        private static readonly int DataInt = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 1 : 2;

        private readonly int _epoll;
        private readonly int[] _events = new int[MaxEvents * 4];
        private readonly int[] _one = new int[4];
        private bool _disposed;

        private EpollLoadLoop(int epoll)
        {
            _epoll = epoll;
        }

        public string Name => "epoll";

        /// <summary>A loop with its epoll instance, or null where epoll is not there (not Linux, or epoll_create1 failed): the caller then uses the asynchronous loop.</summary>
        internal static EpollLoadLoop TryCreate()
        {
            if (!LinuxSocketCalls.Available)
                return null;
            try
            {
                int epoll = EpollCreate1(EPOLL_CLOEXEC);
                return epoll >= 0 ? new EpollLoadLoop(epoll) : null;
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                return null;
            }
        }

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            LinuxSocketCalls.Close(_epoll);
        }

        public LoadTiming Drive(IPEndPoint endPoint, LoadClient[] clients, RepeatingPattern pattern, int size, TimeSpan duration,
            TimeSpan connectWait, ProbeSockets sockets, Func<bool> cancelled, ThreadWatch threads)
        {
            // The loop's own set: nothing closes these sockets under it (a cancel closes the caller's set, and this
            // loop sees the cancel within 100 ms); they close here, after the timed part.
            using (var own = new ProbeSockets())
            {
                ConnectAll(endPoint, clients, own, connectWait, cancelled, threads);
                if (cancelled())
                    throw new OperationCanceledException();
                foreach (var c in clients)
                    if (c.Connected)
                        Control(EPOLL_CTL_MOD, c, EPOLLIN);
                return RunTimed(clients, pattern, size, duration, cancelled, threads);
            }
        }

        private void ConnectAll(IPEndPoint endPoint, LoadClient[] clients, ProbeSockets own, TimeSpan connectWait, Func<bool> cancelled, ThreadWatch threads)
        {
            long start = Stopwatch.GetTimestamp();
            int pending = 0;
            foreach (var c in clients)
            {
                if (cancelled())
                    throw new OperationCanceledException();
                c.Socket = own.Open(endPoint.AddressFamily);
                c.Socket.Blocking = false;
                c.Descriptor = (int)c.Socket.Handle;
                try
                {
                    c.Socket.Connect(endPoint);
                    Connected(c, start);
                    Control(EPOLL_CTL_ADD, c, 0);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock || ex.SocketErrorCode == SocketError.InProgress)
                {
                    Control(EPOLL_CTL_ADD, c, EPOLLOUT);
                    pending++;
                }
                catch (SocketException ex)
                {
                    c.Failure = ProbeSockets.StatusOf(ex);
                    Drop(c, own, registered: false);
                }
            }

            long deadline = start + (long)(connectWait.TotalSeconds * Stopwatch.Frequency);
            while (pending > 0 && !cancelled())
            {
                long now = Stopwatch.GetTimestamp();
                if (now >= deadline)
                    break;
                int n = Wait(now, deadline, threads);
                for (int e = 0; e < n; e++)
                {
                    var c = clients[_events[e * EventInts + DataInt]];
                    if (c.Connected || c.Socket == null)
                        continue;
                    pending--;
                    var error = (SocketError)(int)c.Socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error);
                    if (error == SocketError.Success)
                    {
                        Connected(c, start);
                        Control(EPOLL_CTL_MOD, c, 0); // quiet until the timed part starts
                    }
                    else
                    {
                        c.Failure = ProbeSockets.StatusOf(new SocketException((int)error));
                        Drop(c, own, registered: true);
                    }
                }
            }
            // Not connected within the wait: left out of the timed part (the step counts them), not an error.
            foreach (var c in clients)
                if (!c.Connected && c.Socket != null)
                    Drop(c, own, registered: true);
        }

        private static void Connected(LoadClient c, long start)
        {
            c.ConnectMs = LatencyStats.ToMs(Stopwatch.GetTimestamp() - start);
            c.Connected = true;
        }

        private void Drop(LoadClient c, ProbeSockets own, bool registered)
        {
            if (registered)
                Control(EPOLL_CTL_DEL, c, 0);
            own.Close(c.Socket);
            c.Socket = null;
            c.Descriptor = -1;
        }

        [MethodImpl(Optimized)]
        private LoadTiming RunTimed(LoadClient[] clients, RepeatingPattern pattern, int size, TimeSpan duration, Func<bool> cancelled, ThreadWatch threads)
        {
            var expected = pattern.Bytes;
            var buffer = new byte[size];
            var cpuBefore = threads.Cpu();
            long start = Stopwatch.GetTimestamp();
            long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            foreach (var c in clients)
            {
                if (!c.Connected)
                    continue;
                c.Begin(pattern, size, Stopwatch.GetTimestamp());
                Send(c, expected, size);
            }
            while (!cancelled())
            {
                long now = Stopwatch.GetTimestamp();
                if (now >= deadline)
                    break;
                int n = Wait(now, deadline, threads);
                for (int e = 0; e < n; e++)
                {
                    int flags = _events[e * EventInts];
                    var c = clients[_events[e * EventInts + DataInt]];
                    if (c.Finished)
                        continue;
                    if ((flags & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0)
                        Receive(c, pattern, expected, buffer, size, deadline);
                    if (!c.Finished && (flags & EPOLLOUT) != 0 && c.Sent < size)
                        Send(c, expected, size);
                }
            }
            long end = Stopwatch.GetTimestamp();
            var cpu = threads.Cpu() - cpuBefore;
            return new LoadTiming(cpu, LatencyStats.ToMs(Math.Min(end, deadline) - start));
        }

        /// <summary>Waits for events at most until the deadline and 100 ms (a cancel is seen within that), sampling the thread count as often.</summary>
        [MethodImpl(Optimized)]
        private int Wait(long now, long deadline, ThreadWatch threads)
        {
            threads.SampleEvery(now, SampleMs);
            int timeout = (int)Math.Ceiling(Math.Min(SampleMs, LatencyStats.ToMs(deadline - now)));
            int n = EpollWait(_epoll, ref _events[0], MaxEvents, Math.Max(timeout, 0));
            if (n >= 0)
                return n;
            int errno = Marshal.GetLastWin32Error();
            if (errno == EINTR)
                return 0;
            throw new SocketException((int)LinuxSocketCalls.ToSocketError(errno));
        }

        /// <summary>Reads what the socket has of the echo (never past the message), verifies it, and on the whole echo counts the round trip and sends the next message.</summary>
        [MethodImpl(Optimized)]
        private void Receive(LoadClient c, RepeatingPattern pattern, byte[] expected, byte[] buffer, int size, long deadline)
        {
            int want = size - c.Received;
            if (want == 0)
                return; // all of it back before all of it went: wait for the send to finish
            long n = (long)LinuxSocketCalls.Recv(c.Descriptor, ref buffer[0], (UIntPtr)want, 0);
            if (n < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                if (errno == EAGAIN || errno == EINTR)
                    return;
                Failed(c, errno, deadline);
                return;
            }
            if (n == 0)
            {
                c.Fail(nameof(EchoRoundTripStatus.ClosedEarly));
                Control(EPOLL_CTL_DEL, c, 0);
                return;
            }
            if (!c.OnReceived(expected, buffer, (int)n))
            {
                Control(EPOLL_CTL_DEL, c, 0);
                return;
            }
            if (!c.Echoed(size))
                return;
            long now = Stopwatch.GetTimestamp();
            if (!c.Complete(now, deadline))
            {
                Control(EPOLL_CTL_DEL, c, 0);
                return;
            }
            c.Begin(pattern, size, now);
            Send(c, expected, size);
        }

        /// <summary>Sends what the socket takes of the rest of the message; asks for EPOLLOUT while some is left.</summary>
        [MethodImpl(Optimized)]
        private void Send(LoadClient c, byte[] expected, int size)
        {
            long n = (long)LinuxSocketCalls.SendTo(c.Descriptor, ref expected[c.Offset + c.Sent], (UIntPtr)(size - c.Sent), MSG_NOSIGNAL);
            if (n < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                if (errno != EAGAIN && errno != EINTR)
                {
                    Failed(c, errno, long.MaxValue);
                    return;
                }
                n = 0;
            }
            c.OnSent((int)n);
            bool waitToSend = c.Sent < size;
            if (waitToSend != c.WaitingToSend)
            {
                c.WaitingToSend = waitToSend;
                Control(EPOLL_CTL_MOD, c, waitToSend ? EPOLLIN | EPOLLOUT : EPOLLIN);
            }
        }

        private void Failed(LoadClient c, int errno, long deadline)
        {
            if (Stopwatch.GetTimestamp() < deadline)
                c.Fail(ProbeSockets.StatusOf(new SocketException((int)LinuxSocketCalls.ToSocketError(errno))));
            else
                c.Finished = true;
            Control(EPOLL_CTL_DEL, c, 0);
        }

        private void Control(int operation, LoadClient c, int events)
        {
            _one[0] = events;
            _one[DataInt] = c.Index;
            if (EpollCtl(_epoll, operation, c.Descriptor, ref _one[0]) != 0 && operation != EPOLL_CTL_DEL)
                throw new SocketException((int)LinuxSocketCalls.ToSocketError(Marshal.GetLastWin32Error()));
        }

        [DllImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
        private static extern int EpollCreate1(int flags);

        [DllImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
        private static extern int EpollCtl(int epoll, int operation, int descriptor, ref int epollEvent);

        [DllImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
        private static extern int EpollWait(int epoll, ref int events, int maxEvents, int timeoutMilliseconds);
    }
}

using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using EchoPS.Client;
using EchoPS.Measure;

namespace EchoPS.Tests
{
    /// <summary>
    /// The load figure's clients: the per-client bookkeeping as plain code (partial sends and receives, a mismatch's
    /// place, the deadline), and the loops over real loopback sockets against small servers made here (one that echoes
    /// a byte at a time, one that changes a byte, one that resets), each bounded in time.
    /// </summary>
    public class LoadLoopTests
    {
        private const int Size = 64;

        [Fact]
        public void A_message_sent_and_echoed_in_pieces_counts_once_when_all_of_it_is_back_and_verified()
        {
            var pattern = RepeatingPattern.Create(null, Size);
            var c = new LoadClient(3);
            c.Begin(pattern, Size, now: 100);
            var expected = pattern.Bytes.Skip(c.Offset).Take(Size).ToArray();
            c.OnSent(10);
            Assert.True(c.OnReceived(pattern.Bytes, expected.Take(7).ToArray(), 7)); // echo overtakes the send
            Assert.False(c.Echoed(Size));
            c.OnSent(Size - 10);
            Assert.True(c.OnReceived(pattern.Bytes, expected.Skip(7).Take(50).ToArray(), 50));
            Assert.False(c.Echoed(Size));
            Assert.True(c.OnReceived(pattern.Bytes, expected.Skip(57).ToArray(), Size - 57));
            Assert.True(c.Echoed(Size));
            Assert.True(c.Complete(now: 350, deadline: 1000));
            Assert.Equal(1, c.RoundTrips);
            Assert.Equal(new long[] { 250 }, c.Ticks);
            Assert.Null(c.Failure);

            // The next message is another slice: the same bytes again would not pass as its echo.
            int first = c.Offset;
            c.Begin(pattern, Size, now: 350);
            Assert.NotEqual(first, c.Offset);
            Assert.Equal(LoadClient.OffsetOf(pattern, 3, 1, Size), c.Offset);
        }

        [Fact]
        public void A_changed_byte_fails_the_client_as_a_mismatch_naming_the_message_and_the_byte()
        {
            var pattern = RepeatingPattern.Create(null, Size);
            var c = new LoadClient(0) { Message = 4 };
            c.Begin(pattern, Size, 0);
            c.OnSent(Size);
            var echo = pattern.Bytes.Skip(c.Offset).Take(Size).ToArray();
            echo[37] ^= 0x20;
            Assert.True(c.OnReceived(pattern.Bytes, echo.Take(30).ToArray(), 30));
            Assert.False(c.OnReceived(pattern.Bytes, echo.Skip(30).ToArray(), Size - 30));
            Assert.Equal(nameof(EchoRoundTripStatus.Mismatch), c.Failure);
            Assert.True(c.Finished);
            Assert.Equal(4, c.MismatchMessage);
            Assert.Equal(37, c.MismatchByte);
            Assert.Equal(0, c.RoundTrips);
            Assert.Contains("message 4 (0 = the first), byte 37", LoadProbe.MismatchPlace(c));
        }

        [Fact]
        public void An_echo_that_ends_after_the_deadline_is_not_counted_and_the_first_failure_is_kept()
        {
            var pattern = RepeatingPattern.Create(null, Size);
            var c = new LoadClient(1);
            c.Begin(pattern, Size, 900);
            Assert.False(c.Complete(now: 1001, deadline: 1000));
            Assert.Equal(0, c.RoundTrips);
            Assert.Empty(c.Ticks);
            Assert.True(c.Finished);
            c.Fail("Reset");
            c.Fail("ClosedEarly");
            Assert.Equal("Reset", c.Failure);
        }

        [Fact]
        public void On_Linux_the_epoll_loop_is_the_one_chosen_and_elsewhere_the_async_one()
        {
            using var loop = LoadLoops.Choose();
            Assert.Equal(RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? "epoll" : "async", loop.Name);
        }

        [Theory]
        [InlineData("epoll")]
        [InlineData("async")]
        public void Both_loops_verify_echoes_that_come_back_a_byte_at_a_time(string loopName)
        {
            if (!Usable(loopName)) return;
            using var server = new TestServer(Behaviour.ByteAtATime);
            // 2 s: every client must get an echo within the step, and the tests run in parallel on a busy machine
            // (0.4 s left one async client in 7 runs without an echo).
            var (step, errors) = RunStep(server, loopName, clients: 3, duration: TimeSpan.FromSeconds(2));
            Assert.Equal(loopName, step.MeasurerLoop);
            Assert.Equal(3, step.Connected);
            Assert.Equal(0, step.Starved);
            Assert.True(step.RoundTrips > 3, $"{step.RoundTrips} round trips");
            Assert.True(step.MeasurerCpuUsPerRoundTrip > 0);
            Assert.Empty(errors.ToArray());
        }

        [Theory]
        [InlineData("epoll")]
        [InlineData("async")]
        public void Both_loops_report_a_changed_byte_as_a_mismatch_with_its_place(string loopName)
        {
            if (!Usable(loopName)) return;
            using var server = new TestServer(Behaviour.FlipByte5OfThirdMessage);
            var (step, errors) = RunStep(server, loopName, clients: 1);
            var error = Assert.Single(errors.ToArray());
            Assert.Equal(nameof(EchoRoundTripStatus.Mismatch), error.Status);
            Assert.Contains("client 0, message 2 (0 = the first), byte 5 of the echo differed", error.Message);
            Assert.Equal(2, step.RoundTrips);
        }

        [Theory]
        [InlineData("epoll")]
        [InlineData("async")]
        public void Both_loops_report_a_peer_that_resets_and_end_on_time(string loopName)
        {
            if (!Usable(loopName)) return;
            using var server = new TestServer(Behaviour.ResetOnFirstMessage);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (step, errors) = RunStep(server, loopName, clients: 2);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{clock.Elapsed}");
            var error = Assert.Single(errors.ToArray());
            Assert.Equal(nameof(EchoRoundTripStatus.Reset), error.Status);
            Assert.Equal(2, error.Count);
            Assert.Equal(0, step.RoundTrips);
        }

        [Fact]
        public void The_epoll_loop_sees_a_cancel_within_its_wait_and_throws()
        {
            if (!Usable("epoll")) return;
            using var server = new TestServer(Behaviour.ByteAtATime);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Assert.Throws<OperationCanceledException>(() =>
                RunStep(server, "epoll", clients: 2, duration: TimeSpan.FromSeconds(30), cancelled: () => clock.ElapsedMilliseconds > 300));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{clock.Elapsed}");
        }

        private static bool Usable(string loopName) => loopName == "async" || RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

        private static (LoadStep, ErrorTally) RunStep(TestServer server, string loopName, int clients, TimeSpan? duration = null, Func<bool> cancelled = null)
        {
            var errors = new ErrorTally();
            using var sockets = new ProbeSockets();
            var step = LoadProbe.Run(server.EndPoint, clients, Size, duration ?? TimeSpan.FromSeconds(0.4), TimeSpan.FromSeconds(3),
                sockets, errors, cancelled ?? (() => false), loopName == "epoll" ? (Func<ILoadLoop>)EpollLoadLoop.TryCreate : () => new AsyncLoadLoop());
            return (step, errors);
        }

        private enum Behaviour { ByteAtATime, FlipByte5OfThirdMessage, ResetOnFirstMessage }

        /// <summary>A loopback server, a thread per client, that misbehaves as asked; stopped (and its threads ended) on dispose.</summary>
        private sealed class TestServer : IDisposable
        {
            private readonly Socket _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            private readonly Behaviour _behaviour;
            private readonly Thread _acceptor;
            private readonly System.Collections.Concurrent.ConcurrentBag<Socket> _clients = new System.Collections.Concurrent.ConcurrentBag<Socket>();

            internal TestServer(Behaviour behaviour)
            {
                _behaviour = behaviour;
                _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                _listener.Listen(16);
                _acceptor = new Thread(Accept) { IsBackground = true };
                _acceptor.Start();
            }

            internal IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint;

            private void Accept()
            {
                try
                {
                    while (true)
                    {
                        var client = _listener.Accept();
                        client.NoDelay = true;
                        _clients.Add(client);
                        new Thread(() => Serve(client)) { IsBackground = true }.Start();
                    }
                }
                catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
                {
                }
            }

            private void Serve(Socket client)
            {
                var buffer = new byte[Size];
                long total = 0;
                try
                {
                    while (true)
                    {
                        int n = client.Receive(buffer, 0, _behaviour == Behaviour.ByteAtATime ? 1 : buffer.Length, SocketFlags.None);
                        if (n == 0)
                            return;
                        if (_behaviour == Behaviour.ResetOnFirstMessage)
                        {
                            client.LingerState = new LingerOption(true, 0);
                            client.Close(); // RST
                            return;
                        }
                        if (_behaviour == Behaviour.FlipByte5OfThirdMessage)
                        {
                            long at = 2 * Size + 5 - total; // the stream offset of message 2's byte 5, in this read
                            if (at >= 0 && at < n)
                                buffer[at] ^= 0x01;
                        }
                        total += n;
                        client.Send(buffer, 0, n, SocketFlags.None);
                    }
                }
                catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
                {
                }
            }

            public void Dispose()
            {
                _listener.Dispose();
                foreach (var c in _clients)
                    c.Dispose();
                _acceptor.Join(TimeSpan.FromSeconds(5));
            }
        }
    }
}

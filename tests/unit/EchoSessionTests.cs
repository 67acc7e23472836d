using System.Linq;
using System.Net.Sockets;
using EchoPS.LockDown;
using EchoPS.Server;
using EchoPS.Server.Sessions;
using static EchoPS.Tests.VirtualClock;

namespace EchoPS.Tests
{
    /// <summary>
    /// The session loop itself (<see cref="EchoSession"/>) driven over a fake connection on virtual time: every end
    /// reason and limit (client close, reset, idle, send timeout, session cap, slot hold in a receive and in a blocked
    /// write, byte cap, throttle, lingering close, stop and its grace, socket error, allowlist), with the words of the
    /// event, the counts, how the connection was closed and when. Seconds of virtual time take microseconds.
    /// </summary>
    public class EchoSessionTests
    {
        private sealed class Run
        {
            internal VirtualClock Clock = new VirtualClock();
            internal FakeHost Host;
            internal FakeConnection Client;
            internal EchoSession Session;

            internal Run(EchoServerOptions options, params ClientStep[] script)
            {
                Host = new FakeHost(Clock, options);
                Client = new FakeConnection(Clock, options, script) { Host = Host };
                Session = new EchoSession(Host, 0, Clock);
            }

            internal (EchoServerEventKind Kind, DisconnectReason? Reason, string Message, long Received, long Echoed, TimeSpan? Duration) Go()
            {
                Session.Run(Client);
                Assert.Equal(Host.Attached, Host.Detached);
                return Host.Events.Last();
            }

            internal double Ended => Seconds(Clock.T);
        }

        private static ClientStep Send(double at, int bytes) => new ClientStep(at, bytes);
        private static ClientStep Close(double at) => new ClientStep(at, Close: true);
        private static ClientStep Reset(double at) => new ClientStep(at, Reset: true);

        // A client that sends one byte every `every` seconds until `until`.
        private static ClientStep[] Trickle(double every, double until) =>
            Enumerable.Range(0, (int)(until / every)).Select(i => Send(i * every, 1)).ToArray();

        [Fact]
        public void A_client_that_closes_gets_all_its_echo_and_a_plain_close()
        {
            var run = new Run(new EchoServerOptions(), Send(0, 3000), Send(0.5, 100), Close(1));
            var e = run.Go();
            Assert.Equal(EchoServerEventKind.Connected, run.Host.Events[0].Kind);
            Assert.Equal(DisconnectReason.ClientClosed, e.Reason);
            Assert.Null(e.Message);
            Assert.Equal((3100L, 3100L), (e.Received, e.Echoed));
            Assert.Equal((3100L, 3100L), (run.Host.Received, run.Host.Echoed));
            Assert.Equal("close", run.Client.Ending);
            Assert.Equal(1.0, e.Duration.Value.TotalSeconds, 3);
        }

        [Fact]
        public void A_client_that_resets_is_aborted()
        {
            var run = new Run(new EchoServerOptions(), Send(0, 10), Reset(2));
            var e = run.Go();
            Assert.Equal(DisconnectReason.ClientReset, e.Reason);
            Assert.Equal("abort", run.Client.Ending);
            Assert.Equal(10, e.Echoed);
        }

        [Fact]
        public void The_idle_timeout_ends_a_silent_client_with_a_lingering_close()
        {
            var run = new Run(new EchoServerOptions { IdleTimeout = TimeSpan.FromSeconds(5) }, Send(1, 10));
            var e = run.Go();
            Assert.Equal(DisconnectReason.IdleTimeout, e.Reason);
            Assert.Equal("sent nothing for 5 s", e.Message);
            Assert.Equal("linger", run.Client.Ending);
            Assert.InRange(run.Ended, 6, 6.1); // a client with all its echo and nothing to say: the linger ends at once
            Assert.Equal(10, e.Echoed);
        }

        [Fact]
        public void The_idle_timeout_holds_across_the_slot_hold_checks_that_shorten_the_receive()
        {
            // Idle 100 s, slot hold 60 s: the receive timeout is shortened for the hold check, and the idle timeout
            // still ends the session 100 s after the last byte, not at the first early wake-up.
            var run = new Run(new EchoServerOptions { IdleTimeout = TimeSpan.FromSeconds(100) }, Send(1, 1), Send(30, 1));
            var e = run.Go();
            Assert.Equal(DisconnectReason.IdleTimeout, e.Reason);
            Assert.InRange(run.Ended, 130, 130.2);
            Assert.InRange(run.Client.TimeoutChanges, 1, 6);
        }

        [Fact]
        public void The_send_timeout_resets_a_client_that_does_not_read()
        {
            var run = new Run(new EchoServerOptions { SendTimeout = TimeSpan.FromSeconds(2) }, Send(0, 5000))
            {
            };
            run.Client.Window = 1000;
            run.Client.ReadsFrom = double.MaxValue;
            var e = run.Go();
            Assert.Equal(DisconnectReason.SendTimeout, e.Reason);
            Assert.Equal("did not read its echo for 2 s", e.Message);
            Assert.Equal("reset", run.Client.Ending);
            Assert.InRange(run.Ended, 2, 2.01);
            Assert.Equal(1000, e.Echoed); // what the kernel took; the reset throws it away, the event says it was written
        }

        [Fact]
        public void The_send_timeout_bounds_the_whole_write_of_a_client_that_reads_a_little()
        {
            // The client reads 500 bytes a second: each send writes a little, but the write of 20,000 bytes takes
            // longer than 3 s in all, and the send timeout is for the whole write, not each send.
            var run = new Run(new EchoServerOptions { SendTimeout = TimeSpan.FromSeconds(3), MaxSlotHold = TimeSpan.Zero }, Send(0, 20000));
            run.Client.Window = 1000;
            run.Client.ReadRate = 500;
            var e = run.Go();
            Assert.Equal(DisconnectReason.SendTimeout, e.Reason);
            Assert.InRange(run.Ended, 3, 3.1);
        }

        [Fact]
        public void The_session_cap_ends_a_busy_client_exactly()
        {
            var run = new Run(new EchoServerOptions { MaxSessionDuration = TimeSpan.FromSeconds(3) }, Trickle(0.25, 20));
            var e = run.Go();
            Assert.Equal(DisconnectReason.SessionLimit, e.Reason);
            Assert.Equal("reached the session cap of 3 s", e.Message);
            Assert.Equal("linger", run.Client.Ending);
            Assert.InRange(e.Duration.Value.TotalSeconds, 3, 3.1);
            Assert.Equal(12, e.Echoed); // bytes at 0, 0.25, ..., 2.75
        }

        [Fact]
        public void The_slot_hold_limit_ends_a_session_only_once_a_client_waits()
        {
            var run = new Run(new EchoServerOptions { MaxSlotHold = TimeSpan.FromSeconds(10) }, Trickle(0.5, 60));
            run.Host.Waiting = t => t >= 25 ? 1 : 0;
            var e = run.Go();
            Assert.Equal(DisconnectReason.SlotHoldLimit, e.Reason);
            Assert.Equal("held the only slot for 10 s while 1 client waited", e.Message);
            Assert.InRange(run.Ended, 25, 27.5); // the backlog is looked at once a second, a timeout may be a second late
            Assert.Equal("linger", run.Client.Ending);
        }

        [Fact]
        public void With_the_slot_hold_limit_off_a_client_keeps_its_slot_while_others_wait()
        {
            var run = new Run(new EchoServerOptions { MaxSlotHold = TimeSpan.Zero }, Trickle(0.5, 300).Append(Close(300)).ToArray());
            run.Host.Waiting = _ => 3;
            var e = run.Go();
            Assert.Equal(DisconnectReason.ClientClosed, e.Reason);
            Assert.Equal(600, e.Echoed);
        }

        [Fact]
        public void The_slot_hold_limit_names_all_the_slots_when_there_are_several()
        {
            var options = new EchoServerOptions { MaxSlotHold = TimeSpan.FromSeconds(2), Slots = 3 };
            var run = new Run(options, Trickle(0.5, 20));
            run.Host.Waiting = _ => 2;
            var e = run.Go();
            Assert.Equal("held a slot for 2 s while all 3 were busy and 2 clients waited", e.Message);
        }

        [Fact]
        public void The_slot_hold_limit_reaches_a_write_blocked_on_a_client_that_does_not_read_and_the_linger_yields()
        {
            var options = new EchoServerOptions { MaxSlotHold = TimeSpan.FromSeconds(5), SendTimeout = TimeSpan.FromSeconds(30) };
            var run = new Run(options, Send(0, 1000000));
            run.Client.ReadsFrom = double.MaxValue;
            run.Host.Waiting = _ => 1;
            var e = run.Go();
            Assert.Equal(DisconnectReason.SlotHoldLimit, e.Reason);
            // The write woke for the check (not 30 s of send timeout), and the lingering close gave way to the
            // waiting client after its first 2 s; the echo the client never read is not counted.
            Assert.InRange(run.Ended, 7, 9.5);
            Assert.Equal(0, e.Echoed);
            Assert.EndsWith("; 65536 bytes of echo not acknowledged by the client", e.Message);
            Assert.Equal(0, run.Host.Echoed);
        }

        [Fact]
        public void The_byte_cap_ends_a_session_after_exactly_that_many_bytes_and_the_rest_is_read_and_discarded()
        {
            var run = new Run(new EchoServerOptions { MaxBytesPerConnection = 100 }, Send(0, 150), Close(0.5));
            var e = run.Go();
            Assert.Equal(DisconnectReason.ByteLimit, e.Reason);
            Assert.Equal("reached the cap of 100 bytes", e.Message);
            Assert.Equal((100L, 100L), (e.Received, e.Echoed));
            Assert.Equal("linger", run.Client.Ending);
            Assert.Contains("recv", run.Client.Calls.SkipWhile(c => c != "shutdown-send")); // the other 50 read, not reset
            Assert.InRange(run.Ended, 0, 0.1); // the client has all its echo and went quiet: the linger is over
        }

        [Fact]
        public void A_linger_lasts_while_the_client_reads_however_long_that_takes()
        {
            var options = new EchoServerOptions { MaxBytesPerConnection = 50000, SendTimeout = TimeSpan.FromSeconds(2) };
            var run = new Run(options, Send(0, 50000));
            run.Client.Window = 100000;
            run.Client.ReadRate = 5000; // 10 s to read it all
            var e = run.Go();
            Assert.Equal(DisconnectReason.ByteLimit, e.Reason);
            Assert.Equal(50000, e.Echoed);
            Assert.Equal("reached the cap of 50000 bytes", e.Message); // nothing lost
            Assert.InRange(run.Ended, 10, 10.1);
        }

        [Fact]
        public void A_linger_ends_when_the_client_stops_reading_and_the_unread_echo_is_not_counted()
        {
            var options = new EchoServerOptions { MaxBytesPerConnection = 50000, SendTimeout = TimeSpan.FromSeconds(3) };
            var run = new Run(options, Send(0, 50000));
            run.Client.Window = 100000;
            run.Client.ReadRate = 5000;
            run.Client.ReadsUntil = 4; // 20,000 bytes read, then nothing
            var e = run.Go();
            Assert.InRange(run.Ended, 7, 7.1); // no progress for the send timeout
            Assert.Equal(20000, e.Echoed);
            Assert.Equal(20000, run.Host.Echoed);
            Assert.Equal("reached the cap of 50000 bytes; 30000 bytes of echo not acknowledged by the client", e.Message);
        }

        [Fact]
        public void A_stop_ends_an_idle_client_at_once()
        {
            var run = new Run(new EchoServerOptions(), Send(0, 10));
            run.Host.StopAt = S(2);
            var e = run.Go();
            Assert.Equal(DisconnectReason.ServerStopping, e.Reason);
            Assert.Equal(10, e.Echoed);
            Assert.InRange(run.Ended, 2, 2.001);
        }

        [Fact]
        public void A_stop_waits_its_grace_for_a_client_still_reading_and_no_longer()
        {
            var run = new Run(new EchoServerOptions(), Send(0, 100000));
            run.Client.Window = 100000;
            run.Client.ReadRate = 1000; // 100 s of reading: far more than the stop's 0.25 s grace
            run.Host.StopAt = S(2);
            var e = run.Go();
            Assert.Equal(DisconnectReason.ServerStopping, e.Reason);
            Assert.InRange(run.Ended, 2.25, 2.27);
            Assert.Equal(2250, e.Echoed); // what it read by the deadline
            Assert.EndsWith("97750 bytes of echo not acknowledged by the client", e.Message);
        }

        [Fact]
        public void A_stop_whose_forced_wake_comes_before_the_client_has_its_echo_does_not_count_the_echo_in_flight()
        {
            // The stop's shutdown of the receiving side makes a lingering read return end of stream although the
            // client never closed; closing then resets the connection (the client keeps sending), and the echo in
            // flight is gone. Before: the linger took that end of stream for the client's and counted it all.
            var run = new Run(new EchoServerOptions(), Send(0, 100000));
            run.Client.Window = 100000;
            run.Client.ReadRate = 1000;
            run.Client.ForceEarly = 0.1;
            run.Host.StopAt = S(2);
            var e = run.Go();
            Assert.Equal(DisconnectReason.ServerStopping, e.Reason);
            Assert.InRange(run.Ended, 2.1, 2.11);
            Assert.Equal(2100, e.Echoed); // what it read by the forced wake
            Assert.Equal(2100, run.Host.Echoed);
            Assert.EndsWith("97900 bytes of echo not acknowledged by the client", e.Message);
        }

        [Fact]
        public void A_stop_during_a_throttle_pause_ends_the_session()
        {
            var run = new Run(new EchoServerOptions { MaxBytesPerSecond = 1000 }, Send(0, 10000));
            run.Host.StopAt = S(3.5);
            var e = run.Go();
            Assert.Equal(DisconnectReason.ServerStopping, e.Reason);
            Assert.InRange(run.Ended, 3.5, 3.51);
        }

        [Fact]
        public void The_throttle_paces_the_echo_to_its_rate()
        {
            var run = new Run(new EchoServerOptions { MaxBytesPerSecond = 1000 }, Send(0, 5000), Close(0.1));
            var e = run.Go();
            Assert.Equal(DisconnectReason.ClientClosed, e.Reason);
            Assert.Equal(5000, e.Echoed);
            Assert.InRange(run.Ended, 4, 4.01); // a second's burst, then 1000 bytes a second
        }

        [Fact]
        public void A_socket_error_is_an_Error_named_by_the_error_and_the_phase()
        {
            var run = new Run(new EchoServerOptions(), Send(0, 10));
            run.Client.FailSend = SocketError.NoBufferSpaceAvailable;
            var e = run.Go();
            Assert.Equal(DisconnectReason.Error, e.Reason);
            Assert.Equal("NoBufferSpaceAvailable during send", e.Message);
            Assert.Equal("abort", run.Client.Ending);
        }

        [Fact]
        public void A_client_outside_the_allowlist_is_rejected_before_any_echo()
        {
            var options = new EchoServerOptions { AllowList = new[] { AddressRange.Parse("10.0.0.0/8") } };
            var run = new Run(options, Send(0, 10));
            run.Session.Run(run.Client);
            Assert.Single(run.Host.Events);
            Assert.Equal(EchoServerEventKind.Rejected, run.Host.Events[0].Kind);
            Assert.Equal(DisconnectReason.NotAllowed, run.Host.Events[0].Reason);
            Assert.False(run.Host.Attached);
            Assert.Equal(new[] { "abort" }, run.Client.Calls);
        }

        [Fact]
        public void A_session_that_begins_after_a_stop_is_closed_without_echo()
        {
            var run = new Run(new EchoServerOptions(), Send(0, 10));
            run.Host.Stop(0);
            run.Session.Run(run.Client);
            Assert.Empty(run.Host.Events);
            Assert.Equal(new[] { "close" }, run.Client.Calls);
        }

        [Fact]
        public void The_default_path_reads_the_clock_at_most_twice_a_chunk_and_changes_no_timeout_in_a_short_session()
        {
            // Defaults: idle 60 s, send 10 s, slot hold 60 s. Before the seam the loop read the clock three times a
            // chunk and asked the deadlines twice; now twice, and the deadlines only when their answer may change.
            var script = Enumerable.Range(0, 1000).Select(i => Send(i * 0.001, 100)).Append(Close(1.5)).ToArray();
            var run = new Run(new EchoServerOptions(), script);
            var e = run.Go();
            Assert.Equal(100000, e.Echoed);
            Assert.InRange(run.Clock.Reads, 1000, 2 * 1000 + 6);
            Assert.Equal(0, run.Client.TimeoutChanges); // no setsockopt: the syscalls of a connection are today's
            Assert.Equal(2000 + 1, run.Client.Calls.Count(c => c == "recv" || c == "send")); // one recv and one send per chunk, and the end
        }

        [Fact]
        public void An_hour_of_traffic_and_a_day_of_silence_take_no_wall_clock_time()
        {
            var run = new Run(new EchoServerOptions { IdleTimeout = TimeSpan.FromSeconds(86400) }, Trickle(1, 3600));
            var e = run.Go();
            Assert.Equal(DisconnectReason.IdleTimeout, e.Reason);
            Assert.Equal(3600, e.Echoed);
            Assert.InRange(run.Ended, 3599 + 86400, 3599 + 86400.1);
        }
    }
}

using System.Net.Sockets;
using EchoPS.Net;
using EchoPS.Server;
using EchoPS.Server.Sessions;

namespace EchoPS.Tests
{
    /// <summary>
    /// How a session names its end (EchoPS.Server.Sessions.SessionRules): from the socket fault, the phase, whether a
    /// stop was asked, and how long the session and its current write had run; and the words of each limit.
    /// </summary>
    public class SessionRulesTests
    {
        private static readonly EchoServerOptions Defaults = new EchoServerOptions();

        private static DisconnectReason Classify(SocketFault fault, IoPhase phase = IoPhase.Receive, bool stopping = false,
            double sessionSec = 1, double writeSec = 0, EchoServerOptions options = null) =>
            SessionRules.Classify(fault, phase, stopping, TimeSpan.FromSeconds(sessionSec), TimeSpan.FromSeconds(writeSec), options ?? Defaults);

        public static TheoryData<SocketFault, DisconnectReason> ReceiveFaults() => new TheoryData<SocketFault, DisconnectReason>
        {
            { SocketFault.Reset, DisconnectReason.ClientReset }, { SocketFault.TimedOut, DisconnectReason.IdleTimeout },
            { SocketFault.Closed, DisconnectReason.ServerStopping }, { SocketFault.Other, DisconnectReason.Error },
            { SocketFault.Unreachable, DisconnectReason.Error }, { SocketFault.AccessDenied, DisconnectReason.Error },
        };

        [Theory]
        [MemberData(nameof(ReceiveFaults))]
        public void A_fault_in_a_receive_names_the_end(SocketFault fault, DisconnectReason expected)
        {
            Assert.Equal(expected, Classify(fault));
        }

        [Fact]
        public void Any_fault_after_a_stop_request_is_the_stop()
        {
            foreach (SocketFault fault in Enum.GetValues(typeof(SocketFault)))
                Assert.Equal(DisconnectReason.ServerStopping, Classify(fault, IoPhase.Send, stopping: true));
        }

        [Fact]
        public void A_timeout_in_a_send_is_the_send_timeout_only_when_the_write_waited_it_out()
        {
            // The default send timeout is 10 s; .NET reports a reset hitting a blocking send as TimedOut.
            Assert.Equal(DisconnectReason.SendTimeout, Classify(SocketFault.TimedOut, IoPhase.Send, writeSec: 10));
            Assert.Equal(DisconnectReason.SendTimeout, Classify(SocketFault.TimedOut, IoPhase.Send, writeSec: 9.96)); // within the slack
            Assert.Equal(DisconnectReason.ClientReset, Classify(SocketFault.TimedOut, IoPhase.Send, writeSec: 0.2));
            var noSendTimeout = new EchoServerOptions { SendTimeout = TimeSpan.Zero };
            Assert.Equal(DisconnectReason.ClientReset, Classify(SocketFault.TimedOut, IoPhase.Send, writeSec: 100, options: noSendTimeout));
        }

        [Fact]
        public void A_timeout_at_the_session_cap_is_the_session_limit_in_either_phase()
        {
            var capped = new EchoServerOptions { MaxSessionDuration = TimeSpan.FromSeconds(2) };
            Assert.Equal(DisconnectReason.SessionLimit, Classify(SocketFault.TimedOut, IoPhase.Receive, sessionSec: 2, options: capped));
            Assert.Equal(DisconnectReason.SessionLimit, Classify(SocketFault.TimedOut, IoPhase.Send, sessionSec: 1.97, options: capped));
            Assert.Equal(DisconnectReason.IdleTimeout, Classify(SocketFault.TimedOut, IoPhase.Receive, sessionSec: 1, options: capped));
            Assert.Equal(DisconnectReason.ClientReset, Classify(SocketFault.Reset, IoPhase.Receive, sessionSec: 5, options: capped));
        }

        [Fact]
        public void The_slot_hold_words_speak_of_the_slots_when_there_are_several()
        {
            var options = new EchoServerOptions { MaxSlotHold = TimeSpan.FromSeconds(2), Slots = 4 };
            Assert.Equal("held a slot for 2 s while all 4 were busy and 1 client waited", SessionRules.Describe(DisconnectReason.SlotHoldLimit, options, 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => new EchoServerOptions { Slots = 0 }.Validate());
            Assert.Throws<ArgumentOutOfRangeException>(() => new EchoServerOptions { Slots = EchoServerOptions.MaxSlots + 1 }.Validate());
            Assert.StartsWith("4 slots, backlog 128, buffer 65536 bytes each", options.DescribeSocket());
            Assert.StartsWith("backlog 128, buffer 65536 bytes,", new EchoServerOptions().DescribeSocket());
        }

        [Fact]
        public void Only_the_send_timeout_resets_every_other_end_the_server_chose_lingers()
        {
            Assert.Equal(CloseKind.Reset, SessionRules.Closing(DisconnectReason.SendTimeout));
            Assert.Equal(CloseKind.Plain, SessionRules.Closing(DisconnectReason.ClientClosed));
            Assert.Equal(CloseKind.Abort, SessionRules.Closing(DisconnectReason.ClientReset));
            Assert.Equal(CloseKind.Abort, SessionRules.Closing(DisconnectReason.Error));
            foreach (var reason in new[] { DisconnectReason.IdleTimeout, DisconnectReason.ByteLimit, DisconnectReason.SessionLimit,
                DisconnectReason.SlotHoldLimit, DisconnectReason.ServerStopping })
                Assert.Equal(CloseKind.Linger, SessionRules.Closing(reason));
        }

        [Fact]
        public void Limits_are_described_in_invariant_words_and_other_ends_have_no_message()
        {
            var options = new EchoServerOptions
            {
                IdleTimeout = TimeSpan.FromSeconds(0.5),
                SendTimeout = TimeSpan.FromSeconds(1.25),
                MaxBytesPerConnection = 1000000,
                MaxSessionDuration = TimeSpan.FromSeconds(2.5),
                MaxSlotHold = TimeSpan.FromSeconds(0.75),
            };
            NetRulesTests.UnderCulture("de-DE", () =>
            {
                Assert.Equal("sent nothing for 0.5 s", SessionRules.Describe(DisconnectReason.IdleTimeout, options, 0));
                Assert.Equal("did not read its echo for 1.25 s", SessionRules.Describe(DisconnectReason.SendTimeout, options, 0));
                Assert.Equal("reached the cap of 1000000 bytes", SessionRules.Describe(DisconnectReason.ByteLimit, options, 0));
                Assert.Equal("reached the session cap of 2.5 s", SessionRules.Describe(DisconnectReason.SessionLimit, options, 0));
                Assert.Equal("held the only slot for 0.75 s while 1 client waited", SessionRules.Describe(DisconnectReason.SlotHoldLimit, options, 1));
                Assert.Equal("held the only slot for 0.75 s while 3 clients waited", SessionRules.Describe(DisconnectReason.SlotHoldLimit, options, 3));
            });
            foreach (var reason in new[] { DisconnectReason.ClientClosed, DisconnectReason.ClientReset, DisconnectReason.ServerStopping, DisconnectReason.Error })
                Assert.Null(SessionRules.Describe(reason, options, 0));
            Assert.Equal("NoBufferSpaceAvailable during send", SessionRules.DescribeError(SocketError.NoBufferSpaceAvailable, IoPhase.Send));
            Assert.Equal("MessageSize during receive", SessionRules.DescribeError(SocketError.MessageSize, IoPhase.Receive));
        }
    }
}

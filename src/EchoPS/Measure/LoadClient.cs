using System.Collections.Generic;
using System.Net.Sockets;
using EchoPS.Client;

namespace EchoPS.Measure
{
    /// <summary>
    /// One client of a load step: its socket, whether it connected, what it did, and (for the event loop) where its
    /// current message stands. The round-trip bookkeeping is plain code over byte counts, so that partial sends and
    /// receives and a mismatch's place can be tested without sockets.
    /// </summary>
    internal sealed class LoadClient
    {
        internal LoadClient(int index)
        {
            Index = index;
        }

        /// <summary>The client's place in the step: each sends its own slice of the pattern.</summary>
        internal int Index { get; }

        internal Socket Socket;

        /// <summary>The socket's descriptor (the event loop's), -1 when none.</summary>
        internal int Descriptor = -1;
        internal bool Connected;
        internal double ConnectMs;
        internal int RoundTrips;
        internal readonly List<long> Ticks = new List<long>();

        /// <summary>How the client ended, as an echo status name (null: it ran to the deadline).</summary>
        internal string Failure;

        /// <summary>For a mismatch: the message (0 = the first) and the byte within it that differed first.</summary>
        internal long MismatchMessage = -1, MismatchByte = -1;

        // The message in flight (the event loop's state).
        internal long Message;
        internal int Offset, Sent, Received;
        internal long StartedAt;
        internal bool Finished;

        /// <summary>The event loop asked for EPOLLOUT: part of the message is still to be sent.</summary>
        internal bool WaitingToSend;

        /// <summary>The pattern offset of message number <paramref name="message"/>: a different slice for every client and message, so an echo of another client's or of an earlier message cannot pass.</summary>
        internal static int OffsetOf(RepeatingPattern pattern, int client, long message, int size) =>
            pattern.OffsetAt(((long)client * 7919 + message) * size);

        /// <summary>Starts the next message: nothing sent or received yet.</summary>
        internal void Begin(RepeatingPattern pattern, int size, long now)
        {
            Offset = OffsetOf(pattern, Index, Message, size);
            Sent = 0;
            Received = 0;
            StartedAt = now;
        }

        /// <summary>The send just wrote <paramref name="count"/> more bytes of the message.</summary>
        internal void OnSent(int count) => Sent += count;

        /// <summary>
        /// Checks the <paramref name="count"/> bytes just read into <paramref name="buffer"/> (from 0) against the
        /// message's next bytes. True when they match; false, with the message and the first differing byte recorded
        /// and the client failed as a mismatch, when not.
        /// </summary>
        internal bool OnReceived(byte[] expected, byte[] buffer, int count)
        {
            int at = Offset + Received;
            for (int i = 0; i < count; i++)
            {
                if (expected[at + i] != buffer[i])
                {
                    MismatchMessage = Message;
                    MismatchByte = Received + i;
                    Fail(nameof(EchoRoundTripStatus.Mismatch));
                    return false;
                }
            }
            Received += count;
            return true;
        }

        /// <summary>Whether the whole message went out and all of it came back (verified).</summary>
        internal bool Echoed(int size) => Sent == size && Received == size;

        /// <summary>
        /// Counts the round trip that ended at <paramref name="now"/>, unless it ended past the deadline (not counted,
        /// and the client stops). True when the client goes on with its next message.
        /// </summary>
        internal bool Complete(long now, long deadline)
        {
            Message++;
            if (now > deadline)
            {
                Finished = true;
                return false;
            }
            Ticks.Add(now - StartedAt);
            RoundTrips++;
            return true;
        }

        /// <summary>Ends the client with a failure (the first one is kept).</summary>
        internal void Fail(string status)
        {
            if (Failure == null)
                Failure = status;
            Finished = true;
        }
    }
}

namespace EchoPS.Client
{
    /// <summary>Byte counts and differences on one connection's stream, kept outside the timed code.</summary>
    internal sealed class Tally
    {
        internal long Sent;
        internal long Received;
        internal long Mismatches;
        internal long? FirstMismatchOffset;

        /// <summary>Where this tally starts in the connection's stream (a continuous run keeps one tally per result).</summary>
        internal long StreamBase;

        /// <summary>The stream offset of the next byte to send.</summary>
        internal long Position => StreamBase + Sent;

        /// <summary>Bytes that came back beyond those sent: an echo adds none.</summary>
        internal long Extra => Received > Sent ? Received - Sent : 0;

        /// <summary>Counts a read-back block and compares it with what was sent at the same stream offset.</summary>
        internal void Add(int sent, RepeatingPattern pattern, int expectedOffset, byte[] actual, int actualOffset, int received)
        {
            long differing = RepeatingPattern.Compare(pattern.Bytes, expectedOffset, actual, actualOffset, received, out int first);
            if (differing > 0)
            {
                if (FirstMismatchOffset == null)
                    FirstMismatchOffset = StreamBase + Received + first;
                Mismatches += differing;
            }
            Sent += sent;
            Received += received;
        }

        /// <summary>Counts bytes that came back beyond what was sent: every one of them is a difference.</summary>
        internal void AddUnexpected(int count)
        {
            if (FirstMismatchOffset == null)
                FirstMismatchOffset = StreamBase + Received;
            Mismatches += count;
            Received += count;
        }

        internal void AddTo(EchoRoundTripResult result)
        {
            if (FirstMismatchOffset != null && result.FirstMismatchOffset == null)
                result.FirstMismatchOffset = FirstMismatchOffset;
            result.BytesSent += Sent;
            result.BytesReceived += Received;
            result.Mismatches += Mismatches;
        }
    }
}

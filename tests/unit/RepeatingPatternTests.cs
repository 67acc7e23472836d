using System.Linq;
using EchoPS.Client;

namespace EchoPS.Tests
{
    /// <summary>The client's send pattern and its verification: offsets into the repeated unit, comparison, the tally.</summary>
    public class RepeatingPatternTests
    {
        [Fact]
        public void A_payload_is_repeated_so_that_any_slice_of_span_bytes_is_contiguous()
        {
            var pattern = RepeatingPattern.Create(new byte[] { 1, 2, 3 }, 10);
            Assert.Equal(3, pattern.Period);
            Assert.Equal(new byte[] { 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1 }, pattern.Bytes);
            Assert.Equal(0, pattern.OffsetAt(0));
            Assert.Equal(1, pattern.OffsetAt(4));
            Assert.Equal(2, pattern.OffsetAt(3L * int.MaxValue + 2)); // stream offsets beyond 2 GiB
        }

        [Fact]
        public void Without_a_payload_the_unit_is_pseudo_random_of_a_prime_length_and_the_same_every_run()
        {
            var a = RepeatingPattern.Create(null, 100);
            var b = RepeatingPattern.Create(null, 100);
            Assert.Equal(RepeatingPattern.RandomPeriod, a.Period);
            Assert.Equal(65521, a.Period);
            Assert.Equal(a.Bytes, b.Bytes);
            // Not a constant or a short cycle: nearly every byte value occurs.
            Assert.True(a.Bytes.Take(a.Period).Distinct().Count() > 250);
        }

        /// <summary>The law the client relies on: the slice at OffsetAt(s) holds the stream's bytes s, s+1, ... s+span-1.</summary>
        [Property(MaxTest = 200)]
        public Property The_slice_at_any_stream_offset_is_the_stream_from_there()
        {
            var cases =
                from unit in Gen.Choose(1, 50)
                from span in Gen.Choose(1, 200)
                from offset in Gen.Choose(0, int.MaxValue)
                from high in Gen.Choose(0, 3)
                select (unit, span, offset: offset + ((long)high << 32));
            return Prop.ForAll(cases.ToArbitrary(), c =>
            {
                var payload = Enumerable.Range(0, c.unit).Select(i => (byte)(i * 7 + 3)).ToArray();
                var pattern = RepeatingPattern.Create(payload, c.span);
                int at = pattern.OffsetAt(c.offset);
                for (int k = 0; k < c.span; k++)
                {
                    if (pattern.Bytes[at + k] != payload[(c.offset + k) % c.unit])
                        return false;
                }
                return true;
            });
        }

        /// <summary>Compare counts exactly the differing bytes and finds the first, whatever the 8-byte fast path skips.</summary>
        [Property(MaxTest = 500)]
        public Property Compare_counts_every_difference_and_finds_the_first()
        {
            var cases =
                from count in Gen.Choose(0, 64)
                from changes in Gen.ListOf(Gen.Choose(0, 63))
                from expectedOffset in Gen.Choose(0, 5)
                from actualOffset in Gen.Choose(0, 5)
                select (count, changes, expectedOffset, actualOffset);
            return Prop.ForAll(cases.ToArbitrary(), c =>
            {
                var expected = Enumerable.Range(0, 80).Select(i => (byte)(i * 31)).ToArray();
                var actual = new byte[80];
                Array.Copy(expected, c.expectedOffset, actual, c.actualOffset, 80 - Math.Max(c.expectedOffset, c.actualOffset));
                foreach (var i in c.changes.Where(i => i < c.count))
                    actual[c.actualOffset + i] ^= 0x5A;
                var differing = Enumerable.Range(0, c.count)
                    .Where(i => expected[c.expectedOffset + i] != actual[c.actualOffset + i]).ToList();
                long n = RepeatingPattern.Compare(expected, c.expectedOffset, actual, c.actualOffset, c.count, out int first);
                return n == differing.Count && first == (differing.Count == 0 ? -1 : differing[0]);
            });
        }

        [Fact]
        public void The_tally_places_the_first_mismatch_at_its_stream_offset()
        {
            var pattern = RepeatingPattern.Create(new byte[] { 10, 20, 30, 40 }, 16);
            var tally = new Tally { StreamBase = 1000 };
            Assert.Equal(1000, tally.Position);

            // 8 bytes sent and read back intact, from stream offset 1000.
            var back = new byte[8];
            Array.Copy(pattern.Bytes, pattern.OffsetAt(tally.Position), back, 0, 8);
            tally.Add(8, pattern, pattern.OffsetAt(tally.Position), back, 0, 8);
            Assert.Equal(0, tally.Mismatches);
            Assert.Null(tally.FirstMismatchOffset);
            Assert.Equal(1008, tally.Position);

            // The next 6 bytes come back with the 3rd and 5th byte changed: the first difference is at 1008 + 2.
            int offset = pattern.OffsetAt(tally.Position);
            var next = new byte[6];
            Array.Copy(pattern.Bytes, offset, next, 0, 6);
            next[2] ^= 1;
            next[4] ^= 1;
            tally.Add(6, pattern, offset, next, 0, 6);
            Assert.Equal(2, tally.Mismatches);
            Assert.Equal(1010, tally.FirstMismatchOffset);

            // Bytes beyond what was sent are all differences; the first one stays where it was.
            tally.AddUnexpected(3);
            Assert.Equal(5, tally.Mismatches);
            Assert.Equal(17, tally.Received);
            Assert.Equal(14, tally.Sent);
            Assert.Equal(1010, tally.FirstMismatchOffset);
        }

        [Fact]
        public void Unexpected_bytes_alone_place_the_first_mismatch_after_the_last_received_byte()
        {
            var tally = new Tally { StreamBase = 50, Sent = 10, Received = 10 };
            tally.AddUnexpected(4);
            Assert.Equal(60, tally.FirstMismatchOffset);
        }

        [Fact]
        public void Tallies_add_up_into_a_result_keeping_the_earliest_first_mismatch()
        {
            var result = new EchoRoundTripResult();
            new Tally { Sent = 5, Received = 5 }.AddTo(result);
            new Tally { StreamBase = 5, Sent = 7, Received = 9, Mismatches = 2, FirstMismatchOffset = 8 }.AddTo(result);
            new Tally { StreamBase = 12, Sent = 1, Received = 1, Mismatches = 1, FirstMismatchOffset = 12 }.AddTo(result);
            Assert.Equal(13, result.BytesSent);
            Assert.Equal(15, result.BytesReceived);
            Assert.Equal(3, result.Mismatches);
            Assert.Equal(8, result.FirstMismatchOffset);
        }
    }
}

using System;
using System.Runtime.InteropServices;

namespace EchoPS.Client
{
    /// <summary>
    /// The bytes an echo client sends: a unit (pseudo-random or the caller's payload) repeated, laid out so that any
    /// slice of up to <c>span</c> bytes starting inside the first unit is contiguous. Deterministic, so the byte
    /// expected at any stream offset is known without keeping what was sent, and a corrupted byte is found by offset.
    /// </summary>
    internal sealed class RepeatingPattern
    {
        // A prime: writes and reads of round sizes drift through the unit instead of always starting at its head.
        internal const int RandomPeriod = 65521;
        private const uint Seed = 0x2545F491;

        private RepeatingPattern(byte[] unit, int span)
        {
            Period = unit.Length;
            Bytes = new byte[unit.Length + span];
            for (int i = 0; i < Bytes.Length; i += unit.Length)
                Buffer.BlockCopy(unit, 0, Bytes, i, Math.Min(unit.Length, Bytes.Length - i));
        }

        /// <summary>The pattern bytes: slice from <see cref="OffsetAt"/> for up to span bytes.</summary>
        internal byte[] Bytes { get; }

        /// <summary>The length of the repeated unit.</summary>
        internal int Period { get; }

        /// <summary>Where in <see cref="Bytes"/> the byte at this stream offset sits.</summary>
        internal int OffsetAt(long streamOffset) => (int)(streamOffset % Period);

        /// <summary>The caller's payload repeated, or pseudo-random bytes when there is none.</summary>
        internal static RepeatingPattern Create(byte[] payload, int span) =>
            new RepeatingPattern(payload ?? RandomUnit(), span);

        private static byte[] RandomUnit()
        {
            // xorshift32: fast, fixed seed, so runs are reproducible byte for byte.
            var unit = new byte[RandomPeriod];
            uint state = Seed;
            for (int i = 0; i < unit.Length; i++)
            {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                unit[i] = (byte)state;
            }
            return unit;
        }

        /// <summary>
        /// Compares <paramref name="count"/> received bytes with the expected ones; returns how many differ and
        /// sets <paramref name="first"/> to the index of the first difference (-1 when none).
        /// </summary>
        internal static long Compare(byte[] expected, int expectedOffset, byte[] actual, int actualOffset, int count, out int first)
        {
            first = -1;
            if (count >= NativeCompareMin && NativeEqual(expected, expectedOffset, actual, actualOffset, count))
                return 0;
            int i = 0;
            // Eight bytes at a time while they agree: verification must keep up with a loopback stream.
            while (i + 8 <= count && BitConverter.ToInt64(expected, expectedOffset + i) == BitConverter.ToInt64(actual, actualOffset + i))
                i += 8;
            if (i == count)
                return 0;
            long differing = 0;
            for (; i < count; i++)
            {
                if (expected[expectedOffset + i] == actual[actualOffset + i])
                    continue;
                if (first < 0)
                    first = i;
                differing++;
            }
            return differing;
        }

        // Below this a call into libc costs more than the managed loop saves (a round trip's small messages).
        private const int NativeCompareMin = 1024;
        private static readonly bool HasLibcMemcmp = RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

        /// <summary>
        /// True when both ranges are equal, by libc's vectorized memcmp on Linux: the managed loop reads about 2 GiB/s,
        /// which on one CPU shared with the server cost a verified loopback stream a fifth of its speed. False when they
        /// differ, or where memcmp is not used (the managed loop then decides).
        /// </summary>
        private static bool NativeEqual(byte[] expected, int expectedOffset, byte[] actual, int actualOffset, int count)
        {
            if (!HasLibcMemcmp || expectedOffset < 0 || actualOffset < 0 || count > expected.Length - expectedOffset || count > actual.Length - actualOffset)
                return false;
            return memcmp(ref expected[expectedOffset], ref actual[actualOffset], (UIntPtr)count) == 0;
        }

        // By reference: the runtime pins both arrays for the call.
        [DllImport("libc", EntryPoint = "memcmp")]
        private static extern int memcmp(ref byte left, ref byte right, UIntPtr count);
    }
}

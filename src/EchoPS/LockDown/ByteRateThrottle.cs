using System;

namespace EchoPS.LockDown
{
    /// <summary>
    /// A token bucket that paces one connection's echo to a byte rate, with a burst of one second's worth:
    /// a guard against two echo services feeding each other at full speed.
    /// </summary>
    public sealed class ByteRateThrottle
    {
        private readonly double _bytesPerSecond;
        private double _tokens;
        private DateTime _last;

        /// <summary>Creates a full bucket for <paramref name="bytesPerSecond"/> (at least 1).</summary>
        public ByteRateThrottle(long bytesPerSecond, DateTime now)
        {
            if (bytesPerSecond < 1)
                throw new ArgumentOutOfRangeException(nameof(bytesPerSecond), bytesPerSecond, "The rate must be at least 1 byte per second.");
            _bytesPerSecond = bytesPerSecond;
            _tokens = bytesPerSecond;
            _last = now;
        }

        /// <summary>The largest chunk worth reading at once: one second's worth of bytes.</summary>
        public int MaxChunk => (int)Math.Min(int.MaxValue, _bytesPerSecond);

        /// <summary>Takes <paramref name="bytes"/> from the bucket and says how long to wait before sending them.</summary>
        public TimeSpan Take(int bytes, DateTime now)
        {
            _tokens = Math.Min(_bytesPerSecond, _tokens + (now - _last).TotalSeconds * _bytesPerSecond);
            _last = now;
            _tokens -= bytes;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _bytesPerSecond);
        }
    }
}

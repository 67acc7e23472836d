using System;
using System.Net;

namespace EchoPS.Net
{
    /// <summary>The defaults and range rules the server and the client share, written once.</summary>
    public static class EchoDefaults
    {
        /// <summary>The port an echo server listens on, and a client connects to, unless told otherwise.</summary>
        public const int Port = 8080;

        /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the value and what is allowed.</summary>
        internal static void CheckRange(string name, long value, long min, long max)
        {
            if (value < min || value > max)
                throw new ArgumentOutOfRangeException(name, value, $"{name} {value} is out of range: allowed is {min} to {max}.");
        }

        /// <summary>A time limit where 0 means none: throws <see cref="ArgumentOutOfRangeException"/> outside 0 to <paramref name="max"/>.</summary>
        internal static void CheckTimeout(string name, TimeSpan value, TimeSpan max)
        {
            if (value < TimeSpan.Zero || value > max)
                throw new ArgumentOutOfRangeException(name, value, $"{name} {value} is out of range: allowed is 0 (none) to {max}.");
        }

        /// <summary>A port a client can connect to: 1 to 65535.</summary>
        internal static void CheckConnectable(string name, int port) =>
            CheckRange(name, port, IPEndPoint.MinPort + 1, IPEndPoint.MaxPort);
    }
}

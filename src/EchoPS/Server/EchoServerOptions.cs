using System;
using System.Net;

namespace EchoPS.Server
{
    /// <summary>How a blocking echo server binds and serves. Defaults are the safe ones.</summary>
    public sealed class EchoServerOptions
    {
        /// <summary>The default port.</summary>
        public const int DefaultPort = 8080;
        /// <summary>The default listen backlog.</summary>
        public const int DefaultBacklog = 128;
        /// <summary>The largest listen backlog accepted (the kernel clamps it further to somaxconn).</summary>
        public const int MaxBacklog = 65535;
        /// <summary>The default size of the one echo buffer.</summary>
        public const int DefaultBufferSize = 64 * 1024;
        /// <summary>The smallest echo buffer: one byte would work, but it only measures syscall overhead.</summary>
        public const int MinBufferSize = 256;
        /// <summary>The largest echo buffer: beyond this the socket buffers, not ours, limit a read.</summary>
        public const int MaxBufferSize = 16 * 1024 * 1024;

        /// <summary>The address to bind: loopback unless told otherwise.</summary>
        public IPAddress Address { get; set; } = IPAddress.Loopback;

        /// <summary>The port to bind; 0 asks the system for a free one.</summary>
        public int Port { get; set; } = DefaultPort;

        /// <summary>How many not-yet-accepted clients the kernel queues.</summary>
        public int Backlog { get; set; } = DefaultBacklog;

        /// <summary>The size of the single buffer every read and write goes through.</summary>
        public int BufferSize { get; set; } = DefaultBufferSize;

        /// <summary>Sets TCP_NODELAY on accepted sockets, so small echoes are not held back by Nagle's algorithm.</summary>
        public bool NoDelay { get; set; } = true;

        /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
        public void Validate()
        {
            if (Address == null)
                throw new ArgumentException("Address must be an IP address.", nameof(Address));
            CheckRange(nameof(Port), Port, IPEndPoint.MinPort, IPEndPoint.MaxPort);
            CheckRange(nameof(Backlog), Backlog, 1, MaxBacklog);
            CheckRange(nameof(BufferSize), BufferSize, MinBufferSize, MaxBufferSize);
        }

        internal static void CheckRange(string name, long value, long min, long max)
        {
            if (value < min || value > max)
                throw new ArgumentOutOfRangeException(name, value, $"{name} {value} is out of range: allowed is {min} to {max}.");
        }
    }
}

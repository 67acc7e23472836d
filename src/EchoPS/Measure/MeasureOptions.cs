using System;
using System.Collections.Generic;
using EchoPS.Server;

namespace EchoPS.Measure
{
    /// <summary>The figures Measure-EchoServer can measure; any combination.</summary>
    [Flags]
    public enum MeasureFigure
    {
        /// <summary>Nothing.</summary>
        None = 0,
        /// <summary>Latency of small messages on one connection, every byte verified.</summary>
        RoundTrip = 1,
        /// <summary>Full-duplex verified throughput on one connection.</summary>
        Stream = 2,
        /// <summary>Sequential connect, one small echo, close.</summary>
        Connections = 4,
        /// <summary>How many clients are served at once (K clients holding H ms each).</summary>
        Slots = 8,
        /// <summary>N connections at once, each with one message, kept open: how many are echoed within T.</summary>
        Capacity = 16,
        /// <summary>Many clients at once (1, 10, 100, 1000 by default), each sending, waiting for its verified echo, repeating.</summary>
        Load = 32,
        /// <summary>Every figure.</summary>
        All = RoundTrip | Stream | Connections | Slots | Capacity | Load,
    }

    /// <summary>One server to measure: a label and where it listens.</summary>
    public sealed class MeasureTarget
    {
        /// <summary>Creates a target.</summary>
        /// <param name="name">The label in tables and charts; "host:port" when empty.</param>
        /// <param name="host">A host name or IP literal.</param>
        /// <param name="port">The TCP port.</param>
        public MeasureTarget(string name, string host, int port)
        {
            if (string.IsNullOrWhiteSpace(host))
                throw new ArgumentException("A target needs a host name or address.", nameof(host));
            EchoServerOptions.CheckRange("Port", port, 1, 65535);
            Host = host.Trim();
            Port = port;
            Name = string.IsNullOrWhiteSpace(name) ? Endpoint : name.Trim();
        }

        /// <summary>A target the measurer starts: a command line with "{port}", run on a free loopback port.</summary>
        /// <param name="name">The label in tables and charts; the command's first word when empty.</param>
        /// <param name="command">The command line; "{port}" is replaced by the port.</param>
        public static MeasureTarget ForCommand(string name, string command)
        {
            if (string.IsNullOrWhiteSpace(command) || !command.Contains("{port}"))
                throw new ArgumentException($"The command '{command}' has no {{port}}: the measurer gives the server its port there.", nameof(command));
            string label = string.IsNullOrWhiteSpace(name) ? System.IO.Path.GetFileName(command.Trim().Split(' ')[0]) : name;
            return new MeasureTarget(label, "127.0.0.1", 1) { Command = command.Trim() };
        }

        /// <summary>The command line of a server the measurer starts, or null for a server already running.</summary>
        public string Command { get; private set; }

        /// <summary>The process to observe for a server already running (0: found from its port when local).</summary>
        public int ProcessId { get; set; }

        /// <summary>The label in tables and charts.</summary>
        public string Name { get; }

        /// <summary>The host name or IP literal as given.</summary>
        public string Host { get; }

        /// <summary>The TCP port (for a command target: the one it was started on).</summary>
        public int Port { get; internal set; }

        /// <summary>host:port, with an IPv6 literal in brackets.</summary>
        public string Endpoint => (Host.Contains(":") && !Host.StartsWith("[", StringComparison.Ordinal) ? $"[{Host}]" : Host) + ":" + Port;

        /// <inheritdoc />
        public override string ToString() => Command != null ? $"{Name} (command: {Command})" : Name == Endpoint ? Endpoint : $"{Name} ({Endpoint})";
    }

    /// <summary>What Measure-EchoServer measures and how much of it; the defaults are the full lab measurement.</summary>
    public sealed class MeasureOptions
    {
        /// <summary>The most connections the capacity probe opens.</summary>
        public const int MaxCapacityConnections = 100_000;
        /// <summary>The most clients of the slots figure.</summary>
        public const int MaxSlotClients = 256;

        /// <summary>Which figures run.</summary>
        public MeasureFigure Figures { get; set; } = MeasureFigure.All;

        /// <summary>Rounds: each round measures every target once per figure, in alternation; medians are reported.</summary>
        public int Rounds { get; set; } = 3;

        /// <summary>The index of the target the others are compared with.</summary>
        public int BaselineIndex { get; set; }

        /// <summary>Timed round trips per round (after one warm-up).</summary>
        public int RoundTripCount { get; set; } = 10_000;

        /// <summary>Bytes per round-trip message.</summary>
        public int MessageSize { get; set; } = 32;

        /// <summary>How long each stream runs.</summary>
        public TimeSpan StreamDuration { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Bytes per write of the stream.</summary>
        public int StreamChunkSize { get; set; } = 64 * 1024;

        /// <summary>Sequential connections per round.</summary>
        public int ConnectionCount { get; set; } = 1000;

        /// <summary>Clients of the slots figure (K).</summary>
        public int SlotClients { get; set; } = 8;

        /// <summary>How long each slots client holds its connection after its echo (H).</summary>
        public TimeSpan SlotHold { get; set; } = TimeSpan.FromMilliseconds(200);

        /// <summary>Connections the capacity probe opens at once (N); above select()'s FD_SETSIZE (1,024), so its limit shows.</summary>
        public int CapacityConnections { get; set; } = 2000;

        /// <summary>How long the capacity probe waits for every echo (T).</summary>
        public TimeSpan CapacityWait { get; set; } = TimeSpan.FromSeconds(3);

        /// <summary>The most clients of one load step, and the most idle connections.</summary>
        public const int MaxLoadClients = 100_000;

        /// <summary>The load figure's steps: clients at once, one step each.</summary>
        public int[] LoadClients { get; set; } = { 1, 10, 100, 1000 };

        /// <summary>How long each load step's timed part runs.</summary>
        public TimeSpan LoadDuration { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Connections opened to every server before the figures and held, silent, during them (0: none).</summary>
        public int IdleConnections { get; set; }

        /// <summary>Bounds each connect and every read.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

        /// <summary>Bounds the whole of each figure for one server in one round; null: derived from the figure's size (FigureBounds).</summary>
        public TimeSpan? FigureDeadline { get; set; }

        /// <summary>The quick preset: one round of small sizes, for a smoke check in seconds.</summary>
        public static MeasureOptions Quick() => new MeasureOptions
        {
            Rounds = 1,
            RoundTripCount = 1000,
            StreamDuration = TimeSpan.FromMilliseconds(250),
            ConnectionCount = 200,
            SlotClients = 4,
            SlotHold = TimeSpan.FromMilliseconds(100),
            CapacityConnections = 100,
            CapacityWait = TimeSpan.FromSeconds(1),
            LoadClients = new[] { 1, 10, 100 },
            LoadDuration = TimeSpan.FromMilliseconds(250),
        };

        /// <summary>CPU list the servers the measurer starts are pinned to ("1", "0-1"); null: not pinned.</summary>
        public string ServerCpus { get; set; }

        /// <summary>How long a started server may take to listen.</summary>
        public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(120);

        /// <summary>How long a started server has to end after SIGTERM before SIGKILL.</summary>
        public TimeSpan StopGrace { get; set; } = TimeSpan.FromSeconds(3);

        /// <summary>Where a started server runs (its working directory); the current directory when null.</summary>
        public string WorkingDirectory { get; set; }

        /// <summary>Where the servers' output and start scripts go; a temporary folder when null.</summary>
        public string ServerOutputFolder { get; set; }

        /// <summary>An extra pass per local server under strace -f -c and perf stat (never mixed into timed figures).</summary>
        public bool Trace { get; set; }

        /// <summary>Round trips and connections of each traced pass.</summary>
        public int TraceCount { get; set; } = 1000;

        /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
        public void Validate(IReadOnlyList<MeasureTarget> targets)
        {
            if (targets == null || targets.Count == 0)
                throw new ArgumentException("Give at least one server to measure.", nameof(targets));
            if ((Figures & MeasureFigure.All) == MeasureFigure.None)
                throw new ArgumentException("Choose at least one figure.", nameof(Figures));
            EchoServerOptions.CheckRange(nameof(Rounds), Rounds, 1, 1000);
            EchoServerOptions.CheckRange("Baseline", BaselineIndex, 0, targets.Count - 1);
            EchoServerOptions.CheckRange(nameof(RoundTripCount), RoundTripCount, 1, Client.EchoClientOptions.MaxCount);
            EchoServerOptions.CheckRange(nameof(MessageSize), MessageSize, 1, Client.EchoClientOptions.MaxSize);
            EchoServerOptions.CheckRange(nameof(StreamChunkSize), StreamChunkSize, 1, Client.EchoClientOptions.MaxSize);
            EchoServerOptions.CheckRange(nameof(ConnectionCount), ConnectionCount, 1, 10_000_000);
            EchoServerOptions.CheckRange(nameof(SlotClients), SlotClients, 1, MaxSlotClients);
            EchoServerOptions.CheckRange(nameof(CapacityConnections), CapacityConnections, 1, MaxCapacityConnections);
            if (LoadClients == null || LoadClients.Length == 0)
                throw new ArgumentException("LoadClients needs at least one step (clients at once).", nameof(LoadClients));
            foreach (int clients in LoadClients)
                EchoServerOptions.CheckRange(nameof(LoadClients), clients, 1, MaxLoadClients);
            EchoServerOptions.CheckRange(nameof(IdleConnections), IdleConnections, 0, MaxLoadClients);
            CheckPositive(nameof(LoadDuration), LoadDuration);
            CheckPositive(nameof(StreamDuration), StreamDuration);
            CheckPositive(nameof(CapacityWait), CapacityWait);
            CheckPositive(nameof(Timeout), Timeout);
            if (FigureDeadline is TimeSpan bound && (bound <= TimeSpan.Zero || bound > Client.EchoClientOptions.MaxDeadline))
                throw new ArgumentException($"FigureDeadline {bound} is out of range: allowed is more than 0 to {Client.EchoClientOptions.MaxDeadline}.", nameof(FigureDeadline));
            if (SlotHold < TimeSpan.Zero)
                throw new ArgumentException($"SlotHold {SlotHold} cannot be negative.", nameof(SlotHold));
        }

        private static void CheckPositive(string name, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
                throw new ArgumentException($"{name} {value} must be positive.", name);
        }
    }
}

using System;
using System.Diagnostics;
using System.Net;
using EchoPS.Client;

namespace EchoPS.Measure
{
    /// <summary>
    /// What drives a load step's clients: connect them all within the connect wait, then run every connected client
    /// (send, whole echo verified, repeat) until the deadline, and say what the timed part cost. Two loops: epoll on
    /// Linux (<see cref="EpollLoadLoop"/>), the runtime's asynchronous sockets elsewhere (<see cref="AsyncLoadLoop"/>);
    /// <see cref="LoadLoops.Choose"/> picks one.
    /// </summary>
    internal interface ILoadLoop : IDisposable
    {
        /// <summary>The loop's name as a step reports it: "epoll" or "async".</summary>
        string Name { get; }

        /// <summary>Connects the clients and runs the timed part; fills each client's counts, latencies and failure.</summary>
        LoadTiming Drive(IPEndPoint endPoint, LoadClient[] clients, RepeatingPattern pattern, int size, TimeSpan duration,
            TimeSpan connectWait, ProbeSockets sockets, Func<bool> cancelled, ThreadWatch threads);
    }

    /// <summary>The timed part: the measuring process's CPU time over it (all threads) and how long it ran.</summary>
    internal readonly struct LoadTiming
    {
        internal LoadTiming(TimeSpan cpu, double elapsedMs)
        {
            Cpu = cpu;
            ElapsedMs = elapsedMs;
        }

        internal TimeSpan Cpu { get; }

        internal double ElapsedMs { get; }
    }

    /// <summary>The one place the load loop is chosen.</summary>
    internal static class LoadLoops
    {
        /// <summary>The epoll loop on Linux; the asynchronous loop elsewhere or when epoll cannot be set up.</summary>
        internal static ILoadLoop Choose() => (ILoadLoop)EpollLoadLoop.TryCreate() ?? new AsyncLoadLoop();
    }

    /// <summary>The measuring process: its CPU time, and its thread count at most (sampled before and during a step).</summary>
    internal sealed class ThreadWatch
    {
        private readonly Process _process = Process.GetCurrentProcess();
        private long _lastSample;

        internal ThreadWatch()
        {
            Before = Peak = Count();
            _lastSample = Stopwatch.GetTimestamp();
        }

        internal int Before { get; }

        internal int Peak { get; private set; }

        /// <summary>The process's CPU time so far, all threads (user and system).</summary>
        internal TimeSpan Cpu()
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }

        internal void Sample() => Peak = Math.Max(Peak, Count());

        /// <summary>Samples when at least <paramref name="ms"/> passed since the last sample.</summary>
        internal void SampleEvery(long now, int ms)
        {
            if (LatencyStats.ToMs(now - _lastSample) < ms)
                return;
            _lastSample = now;
            Sample();
        }

        private int Count()
        {
            _process.Refresh();
            return _process.Threads.Count;
        }
    }
}

using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace EchoPS.Client
{
    /// <summary>What <see cref="EchoClientRun.Next"/> found.</summary>
    public enum EchoClientRunState
    {
        /// <summary>A result is ready.</summary>
        Result,
        /// <summary>Nothing yet: the run is still measuring (a time to draw progress).</summary>
        Waiting,
        /// <summary>The run is over and every result was taken.</summary>
        Finished,
    }

    /// <summary>
    /// A run measuring on a thread of its own (<see cref="EchoClient.Start"/>): the caller takes results as they
    /// come and, while it waits, may draw <see cref="EchoClient.Progress"/> at its own pace. However slow the caller
    /// is, the measuring thread never waits for it inside a measurement.
    /// </summary>
    public sealed class EchoClientRun : IDisposable
    {
        // Continuous mode: rounds may run ahead of a slow consumer by this many results, then wait between rounds.
        private const int ContinuousBacklog = 16;
        private static readonly TimeSpan JoinBound = TimeSpan.FromSeconds(10);

        private readonly EchoClient _client;
        private readonly BlockingCollection<EchoRoundTripResult> _results;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Thread _thread;
        private ExceptionDispatchInfo _failure;

        internal EchoClientRun(EchoClient client, IEnumerable<EchoRoundTripResult> results, bool continuous)
        {
            _client = client;
            _results = new BlockingCollection<EchoRoundTripResult>(continuous ? ContinuousBacklog : 1);
            _thread = new Thread(() => Measure(results)) { IsBackground = true, Name = "EchoPS client" };
            _thread.Start();
        }

        private void Measure(IEnumerable<EchoRoundTripResult> results)
        {
            try
            {
                foreach (var result in results)
                    _results.Add(result, _stop.Token);
            }
            catch (Exception ex)
            {
                // Everything is caught: an exception escaping a thread would end the host process. Next() rethrows it.
                _failure = ExceptionDispatchInfo.Capture(ex);
            }
            finally
            {
                _results.CompleteAdding();
            }
        }

        /// <summary>
        /// Waits up to <paramref name="wait"/> for the next result. Rethrows, on the caller's thread, what ended the
        /// run early (<see cref="OperationCanceledException"/> after <see cref="EchoClient.Cancel"/>).
        /// </summary>
        public EchoClientRunState Next(TimeSpan wait, out EchoRoundTripResult result)
        {
            if (_results.TryTake(out result, wait))
                return EchoClientRunState.Result;
            if (!_results.IsCompleted)
                return EchoClientRunState.Waiting;
            _failure?.Throw();
            return EchoClientRunState.Finished;
        }

        /// <summary>Cancels the run if it is still going and waits, bounded, for its thread to end.</summary>
        public void Dispose()
        {
            _client.Cancel();
            _stop.Cancel();
            if (_thread.Join(JoinBound))
            {
                _stop.Dispose();
                _results.Dispose();
            }
        }
    }
}

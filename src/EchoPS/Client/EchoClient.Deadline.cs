using System;
using System.Threading;

namespace EchoPS.Client
{
    public sealed partial class EchoClient
    {
        /// <summary>
        /// The clock of one run (one round in continuous mode). When it runs out, it closes every socket of the run,
        /// which ends whatever call is blocked, and wakes every pause; the run then reports TimedOut with what was done.
        /// Nothing is checked in the timed loops: a run that ends in time pays nothing for its deadline.
        /// </summary>
        private sealed class RunDeadline : IDisposable
        {
            private readonly EchoClient _owner;
            private readonly object _gate = new object();
            private readonly Timer _timer;
            private bool _over;
            private volatile bool _reached;

            internal RunDeadline(EchoClient owner, TimeSpan limit)
            {
                _owner = owner;
                _timer = new Timer(_ => Fire(), null, limit, System.Threading.Timeout.InfiniteTimeSpan);
            }

            /// <summary>Set when the deadline has passed; pauses wait on it.</summary>
            internal ManualResetEvent Reached { get; } = new ManualResetEvent(false);

            internal bool IsReached => _reached;

            private void Fire()
            {
                // Under the lock: once the run is over, a late timer must not close the next round's socket.
                lock (_gate)
                {
                    if (_over)
                        return;
                    _reached = true;
                    Reached.Set();
                    _owner.CloseAll();
                }
            }

            public void Dispose()
            {
                lock (_gate)
                    _over = true;
                _timer.Dispose();
                if (_owner._deadline == this)
                    _owner._deadline = null;
                Reached.Dispose();
            }
        }
    }
}

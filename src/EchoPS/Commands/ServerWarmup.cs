using System;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Threading;

namespace EchoPS.Commands
{
    /// <summary>
    /// Compiles the server's code once per process before the first server listens, so that a server started cold
    /// and hit at once does not pay the JIT inside its first burst of connections (issue 22 item 2).
    /// </summary>
    /// <remarks>
    /// Measured (bench/Measure-ColdBurst.ps1, 2,000 connections, pinned, 7 rounds alternating with the module before
    /// this, load 8-12 on 2 CPUs): a cold foreground server kept a median 0.704x the C server's connections/s before and
    /// 0.988x with this (better in 6 rounds, even in 1), its CPU per connection in the burst 48.1 -> 34.0 us (C: 33.6).
    /// In the burst the runtime had compiled about 270 methods, 70 of them the server's, on the one CPU the server had.
    /// It costs about 40 ms before the first server listens (said by -Verbose), once per process. PrepareMethod gives the
    /// first-tier code; hot methods still move up a tier in the background.
    /// </remarks>
    internal static class ServerWarmup
    {
        private static int _done;

        // The server's types (Server, Net, LockDown), the foreground command's and the event queue, named here rather
        // than found by Assembly.GetTypes(), which would load OxyPlot.dll through the chart types. Module.Tests checks
        // that the list covers every type of those namespaces; nested types (closures, state machines) come with them.
        internal static readonly Type[] Roots =
        {
            typeof(LockDown.AddressRange), typeof(LockDown.ByteRateThrottle), typeof(LockDown.ConnectionRateLimiter),
            typeof(Net.EchoDefaults), typeof(Net.InvariantFormat), typeof(Net.SocketClose), typeof(Net.SocketErrors),
            typeof(Net.SocketSet), typeof(Net.SocketTimeouts),
            typeof(Server.AcceptSlot), typeof(Server.BlockingEchoServer), typeof(Server.ClientEventFolder),
            typeof(Server.EchoListener), typeof(Server.EchoServer), typeof(Server.EchoServerEvent),
            typeof(Server.EchoServerOptions), typeof(Server.EchoServerRegistry), typeof(Server.EchoServerStartException),
            typeof(Server.LinuxSocketCalls), typeof(Server.LinuxTcpInfo),
            typeof(Server.Sessions.Admission), typeof(Server.Sessions.ClientConnection), typeof(Server.Sessions.EchoSession),
            typeof(Server.Sessions.LingerRule), typeof(Server.Sessions.SessionDeadlines), typeof(Server.Sessions.SessionRules),
            typeof(Server.Sessions.SessionTimeout), typeof(Server.Sessions.SessionClock),
            typeof(ServerEventQueue), typeof(StartBlockingEchoServerCommand), typeof(Jobs.EchoServerJob),
            typeof(Formatting.DisplayFormat), typeof(Logging.EventLogFile),
        };

        /// <summary>Prepares the server's methods, once per process; returns the milliseconds it took, or null if done before.</summary>
        internal static double? Run()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
                return null;
            var watch = Stopwatch.StartNew();
            foreach (Type type in Roots)
                PrepareType(type);
            return watch.Elapsed.TotalMilliseconds;
        }

        private static void PrepareType(Type type)
        {
            const BindingFlags all = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
            if (type.ContainsGenericParameters)
                return;
            foreach (MethodInfo method in type.GetMethods(all))
                Prepare(method);
            foreach (ConstructorInfo constructor in type.GetConstructors(all))
                Prepare(constructor);
            foreach (Type nested in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
                PrepareType(nested);
        }

        private static void Prepare(MethodBase method)
        {
            if (method.IsAbstract || method.ContainsGenericParameters || (method.Attributes & MethodAttributes.PinvokeImpl) != 0)
                return;
            try
            {
                RuntimeHelpers.PrepareMethod(method.MethodHandle);
            }
            catch (Exception)
            {
                // A method the runtime cannot prepare ahead compiles on first call as before: warming up is an
                // optimization, never a reason for the server not to start.
            }
        }
    }
}

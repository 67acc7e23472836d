using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using EchoPS.Server;

namespace EchoPS.Completion
{
    /// <summary>
    /// Completes a number that identifies a running server (its port or its id) from the servers running in this
    /// session, with the server's endpoint and state as the tooltip.
    /// </summary>
    public abstract class RunningServerCompleter : IArgumentCompleter
    {
        /// <summary>The number this completer offers for a server.</summary>
        protected abstract int KeyOf(EchoServer server);

        /// <inheritdoc />
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName,
            string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return EchoServerRegistry.Running()
                .Select(server => new { Key = KeyOf(server).ToString(CultureInfo.InvariantCulture), Server = server })
                .Where(s => s.Key.StartsWith(typed, StringComparison.Ordinal))
                .GroupBy(s => s.Key)
                .Select(g => new CompletionResult(g.Key, g.Key, CompletionResultType.ParameterValue,
                    string.Join("; ", g.Select(s => $"server {s.Server.Id} on {s.Server.LocalEndPoint}, {s.Server.State}"))))
                .ToList();
        }
    }

    /// <summary>Completes -Port with the ports of the running servers.</summary>
    public sealed class RunningServerPortCompleter : RunningServerCompleter
    {
        /// <inheritdoc />
        protected override int KeyOf(EchoServer server) => server.Port;
    }

    /// <summary>Completes -Id with the ids of the running servers.</summary>
    public sealed class RunningServerIdCompleter : RunningServerCompleter
    {
        /// <inheritdoc />
        protected override int KeyOf(EchoServer server) => server.Id;
    }
}

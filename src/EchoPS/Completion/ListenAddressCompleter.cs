using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace EchoPS.Completion
{
    /// <summary>
    /// Completes -Address with the addresses a server can bind on this machine: loopback first (the safe default),
    /// then the wildcard addresses, then each interface's own addresses, with what each one exposes as the tooltip.
    /// </summary>
    public sealed class ListenAddressCompleter : IArgumentCompleter
    {
        /// <inheritdoc />
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName,
            string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return Candidates()
                .Where(c => c.Address.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                .GroupBy(c => c.Address, StringComparer.OrdinalIgnoreCase)
                .Select(g => g.First())
                .Select(c => new CompletionResult(c.Address, c.Address, CompletionResultType.ParameterValue, c.Description))
                .ToList();
        }

        private static IEnumerable<Candidate> Candidates()
        {
            yield return new Candidate(IPAddress.Loopback.ToString(), "IPv4 loopback: this machine only (the default)");
            yield return new Candidate(IPAddress.IPv6Loopback.ToString(), "IPv6 loopback: this machine only");
            yield return new Candidate(IPAddress.Any.ToString(), "every IPv4 interface: reachable from the network");
            yield return new Candidate(IPAddress.IPv6Any.ToString(), "every IPv4 and IPv6 interface: reachable from the network");
            foreach (var item in InterfaceAddresses())
                yield return item;
        }

        private static List<Candidate> InterfaceAddresses()
        {
            try
            {
                return NetworkInterface.GetAllNetworkInterfaces()
                    .Where(nic => nic.OperationalStatus == OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
                    .SelectMany(nic => nic.GetIPProperties().UnicastAddresses
                        .Where(u => u.Address.AddressFamily == AddressFamily.InterNetwork || u.Address.AddressFamily == AddressFamily.InterNetworkV6)
                        .Select(u => new Candidate(u.Address.ToString(), $"{nic.Name}: {Exposure(u.Address)}")))
                    .ToList();
            }
            catch (Exception ex) when (ex is NetworkInformationException || ex is PlatformNotSupportedException)
            {
                // Completion is a convenience: a machine that will not list its interfaces still gets the fixed ones.
                return new List<Candidate>();
            }
        }

        // A plain class, not a value tuple: Windows PowerShell 5.1 may run on a .NET Framework without ValueTuple.
        private sealed class Candidate
        {
            internal Candidate(string address, string description)
            {
                Address = address;
                Description = description;
            }

            internal string Address { get; }
            internal string Description { get; }
        }

        private static string Exposure(IPAddress address)
        {
            if (IPAddress.IsLoopback(address))
                return "loopback, this machine only";
            if (address.IsIPv6LinkLocal)
                return "link-local, this network segment only";
            return "reachable on this interface's network";
        }
    }
}

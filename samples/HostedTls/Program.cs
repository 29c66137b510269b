using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sockeye.Handlers;

// TLS comes from appsettings.json alone: the certificate, its key, the handshake timeout. A renewed certificate
// written over the files is used for new connections without a restart.
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddSockeye<EchoHandler>();
builder.Build().Run();

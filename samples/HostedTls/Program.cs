using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sockeye.Handlers;

// TLS comes from appsettings.json alone: the certificate, its key, the handshake timeout. A renewed certificate
// written over the files is used for new connections without a restart. Try it from this folder, which is where
// appsettings.json and the certificate's paths are read from:
//   mkdir -p certs && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
//       -days 30 -keyout certs/server.key -out certs/server.crt
//   dotnet run, then: openssl s_client -connect localhost:5001 -quiet
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddSockeye<EchoHandler>();
builder.Build().Run();

"""praxisops lab: protocol-faithful emulators of the supported devices, real
Linux test hosts in network namespaces and a real SMTP server."""

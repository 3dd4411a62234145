"""Built-in probes of jmo-doctor, registered through the `jmo_doctor.probes` entry points."""

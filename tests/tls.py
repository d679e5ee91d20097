"""TLS for the tests: a private CA made here with `cryptography`, the server
certificates a test needs from it (good, for another host name, expired, or
from a CA nobody trusts), and a TLS-terminating front that forwards the
plain bytes to a server on loopback (Garage's S3 port, the admin API).

The front knows nothing of HTTP: it ends TLS and copies bytes both ways, so
what reaches Garage is what the tool signed (SigV4 covers the Host header,
which the front leaves alone).
"""

import datetime
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loopback import AcceptLoop

HOST = "localhost"  # what the fronts' good certificates name, with 127.0.0.1


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass
class Ca:
    key: object
    cert: x509.Certificate

    @classmethod
    def make(cls, common: str) -> "Ca":
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(_name(common)).issuer_name(_name(common))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                             crl_sign=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, folder: Path, name: str, hosts=(HOST,), ips=("127.0.0.1",),
              expired=False) -> tuple:
        """A server certificate and its key, as PEM files: (cert, key)."""
        import ipaddress
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        start, end = (now - datetime.timedelta(days=10), now - datetime.timedelta(days=2)) \
            if expired else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
        alt = [x509.DNSName(h) for h in hosts] + [x509.IPAddress(ipaddress.ip_address(i))
                                                  for i in ips]
        cert = (x509.CertificateBuilder()
                .subject_name(_name(hosts[0])).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.pem())
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path


class TlsFront(AcceptLoop):
    """Listens on loopback with TLS (the certificate given) and forwards each
    connection's plain bytes to `upstream`. `handshakes` counts connections
    whose handshake completed: a client that refused the certificate never
    gets one, so a test can tell that nothing was sent."""

    def __init__(self, upstream: tuple, cert: Path, key: Path):
        self.upstream = upstream
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.handshakes = 0
        self.lock = threading.Lock()
        self._listen()

    def url(self, host: str = HOST) -> str:
        return f"https://{host}:{self.port}"

    def _connection(self, client: socket.socket) -> None:
        client.settimeout(30)
        try:
            tls = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
        with self.lock:
            self.handshakes += 1
        try:
            server = socket.create_connection(self.upstream, timeout=60)
        except OSError:
            tls.close()
            return
        tls.settimeout(None)
        server.settimeout(None)
        back = threading.Thread(target=_pump, args=(server, tls), daemon=True)
        back.start()
        _pump(tls, server)
        back.join(timeout=60)
        tls.close()
        server.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(64 * 1024)
            if not data:
                break
            sink.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for sock in (sink, source):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

"""A listener on loopback whose accept loop hands each connection to a
thread of its own: what the fault proxy and the TLS front share."""

import socket
import threading


class AcceptLoop:
    """Call `_listen()` once set up; subclasses define `_connection(sock)`."""

    def _listen(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)  # so that `stop` is noticed
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._connection, args=(client,), daemon=True).start()

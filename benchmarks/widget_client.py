"""A student without a browser: what a Voila page asks of the server, sent by Python.

``classroom_load.py --without-browsers`` opens a class of these instead of Chromium pages, to
measure the serving machine alone, as in a class whose browsers run on the students' laptops
(30 simulated Chromium pages cost this 2-core machine more CPU than the server and its kernels).
Each :class:`WidgetStudent` does, in order, what Voila 0.5's page was seen doing on the wire
(Playwright's websocket frames, 2026-12-04):

1. GET the dashboard (the server runs the notebook while the page streams; in a busy class the
   server's waiting room answers first, and the student long-polls it until their turn, as the
   waiting page's script does), then every file a real page of the same lesson fetched from the
   server (:func:`page_files` records them once in Chromium), six at a time like a browser;
2. open the kernel's websocket (the ``v1.kernel.websocket.jupyter.org`` subprotocol), ask for
   ``kernel_info``, and every widget's state through a ``jupyter.widget.control`` comm;
3. greet each ipympl canvas as its front end does (``refresh``, ``send_image_mode``,
   ``initialized``), answering its ``draw`` requests with ``draw`` and its ``resize`` with
   ``refresh``, until every canvas has sent its first frame ("drawn");
4. move a slider by its ``step``, as an arrow key does, timing each move from sending the new
   value to receiving the next frame of any canvas (the browser's decoding and painting of it,
   on a student's laptop, is not in it);
5. close as a closed tab does: the shutdown beacon (``voila/api/shutdown/<kernel>``, with the
   ``_xsrf`` cookie's value), then the websocket.
"""
from __future__ import annotations

import asyncio
import html as htmlmod
import json
import math
import re
import time
import uuid
from typing import Dict, List, Optional, Set
from urllib.parse import urlsplit

import httpx
import tornado.httpclient
import tornado.websocket
from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1

PROTOCOL = "v1.kernel.websocket.jupyter.org"
KERNEL_ID = re.compile(r'"kernelId": "([0-9a-f-]{36})"')
WAITING_ROOM = re.compile(r'id="mtlviz-waiting-room" data-status-url="([^"]+)" data-open-url="([^"]+)"')
PARALLEL_FETCHES = 6  # what a browser opens to one host


def page_files(url: str, lesson: str, *, timeout_s: float = 600) -> List[str]:
    """The paths (with query) that one Chromium page of ``lesson`` fetched from the server at
    ``url``, besides the dashboard itself and its kernel's own API: the page's scripts, styles,
    fonts and widget bundles. Its kernel is then freed by the page's shutdown beacon."""
    from playwright.sync_api import sync_playwright

    from tests.harness import CANVAS_DRAWN, launch_chromium

    origin = urlsplit(url).netloc
    seen: List[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda request: seen.append(request.url) if request.method == "GET" else None)
            page.goto(url + f"voila/render/{lesson}", timeout=timeout_s * 1000)
            page.wait_for_function(CANVAS_DRAWN, polling=500, timeout=timeout_s * 1000)
            page.wait_for_timeout(3000)  # lazy chunks and fonts asked for after the first figure
            kernel = KERNEL_ID.search(page.content())
            cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
            if kernel and "_xsrf" in cookies:  # the page's shutdown beacon, sent here: a tab closed
                # by Playwright without a key press or click sent none (seen 2026-12-04)
                page.request.post(url + f"voila/api/shutdown/{kernel.group(1)}", form={"_xsrf": cookies["_xsrf"]})
        finally:
            browser.close()
    files = []
    for address in seen:
        parts = urlsplit(address)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if (parts.scheme != "http" or parts.netloc != origin or path.startswith("/voila/render/")
                or (kernel and kernel.group(1) in path) or path in files):
            continue
        files.append(path)
    return files


def _message(msg_type: str, content: Dict, session: str, metadata: Optional[Dict] = None) -> Dict:
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "student",
                       "session": session, "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": metadata or {}, "content": content}


class WidgetStudent:
    """One student's dashboard, driven over the wire (see the module's docstring)."""

    def __init__(self, url: str, lesson: str, files: List[str]):
        self.url, self.lesson, self.files = url, lesson, files
        # Six connections kept alive, as a browser holds to one host (until 2026-12-05, tornado's
        # simple client: a new connection for every file, which a page does not do).
        self.http = httpx.AsyncClient(limits=httpx.Limits(max_connections=PARALLEL_FETCHES,
                                                          max_keepalive_connections=PARALLEL_FETCHES),
                                      timeout=httpx.Timeout(600.0))
        self.session = uuid.uuid4().hex
        self.cookie = ""
        self.kernel_id: Optional[str] = None
        self.ws = None
        self.inbox: asyncio.Queue = asyncio.Queue()  # the websocket's messages, read all the time
        self._reader: Optional[asyncio.Future] = None
        self.states: Dict[str, Dict] = {}
        self.canvases: List[str] = []
        self.bytes_fetched = 0
        self.in_flight: Set[str] = set()  # the files being fetched now
        self.failed_files: List[str] = []  # what a browser would have shown broken
        self.stage = "not opened"  # what open() is doing: a student that fails says where

    # -- the wire ---------------------------------------------------------------------------
    async def _send(self, msg_type: str, content: Dict, metadata: Optional[Dict] = None) -> str:
        """Send a shell message; returns its id."""
        message = _message(msg_type, content, self.session, metadata)
        parts = [json.dumps(message[key]).encode() for key in ("header", "parent_header", "metadata", "content")]
        await self.ws.write_message(serialize_msg_to_ws_v1(parts, "shell"), binary=True)
        return message["header"]["msg_id"]

    async def _read_always(self) -> None:
        """Read the websocket all the time, as a browser does, into ``inbox``. Tornado's client
        stops reading frames (pings included) while its one-message queue is full, so a student
        that read only when it expected something left the server's pings unanswered while idle,
        and the server closed its websocket after 90 s (seen 2026-12-05 in a class on a slow
        link, whose first students waited minutes for the last)."""
        while True:
            raw = await self.ws.read_message()
            self.inbox.put_nowait(raw)
            if raw is None:
                return

    async def _receive(self) -> Dict:
        raw = await self.inbox.get()
        if raw is None:
            self.inbox.put_nowait(None)  # closed stays closed
            raise ConnectionError(f"the kernel's websocket closed ({self.ws.close_code} {self.ws.close_reason})")
        _, parts = deserialize_msg_from_ws_v1(raw)
        header, parent = json.loads(parts[0]), json.loads(parts[1])
        return {"msg_type": header["msg_type"], "parent": parent.get("msg_id"), "content": json.loads(parts[3]),
                "buffers": parts[4:]}

    async def _canvas_message(self, canvas: str, kind: str) -> None:
        await self._send("comm_msg", {"comm_id": canvas, "data": {"method": "custom", "content": {"type": kind}}})

    async def _next_frame(self, after: Optional[str] = None) -> str:
        """Read until a canvas sends a frame (returns the canvas), answering what a front end
        answers; with ``after`` (a message's id), only a frame after the kernel began handling that
        message (its "busy" status; served kernels do not echo a page's widget updates)."""
        began = after is None
        while True:
            message = await self._receive()
            if message["msg_type"] == "status" and message["parent"] == after \
                    and message["content"].get("execution_state") == "busy":
                began = True
            if message["msg_type"] != "comm_msg":
                continue
            comm, data = message["content"]["comm_id"], message["content"]["data"]
            if comm not in self.canvases:
                continue
            if message["buffers"] and began:
                return comm
            if data.get("method") == "custom":
                kind = json.loads(data["content"].get("data", "{}")).get("type")
                if kind == "draw":
                    await self._canvas_message(comm, "draw")
                elif kind == "resize":
                    await self._canvas_message(comm, "refresh")

    # -- what a page does ---------------------------------------------------------------------
    async def open(self) -> None:
        """Fetch the page and its files, connect, and wait for the canvas's first frame."""
        self.stage = "fetching the dashboard"
        response = await self.http.get(self.url + f"voila/render/{self.lesson}")
        html = response.text
        self.bytes_fetched = len(response.content)
        waiting = WAITING_ROOM.search(html)
        while waiting:  # the server's waiting room: a long poll until our turn, then the dashboard
            self.stage = "in the waiting room"
            status_url, open_url = (htmlmod.unescape(part) for part in waiting.groups())
            origin = self.url.rstrip("/")
            ahead = ""
            while True:
                poll = await self.http.get(origin + status_url + f"?ahead={ahead}")
                if poll.status_code != 200:
                    raise RuntimeError(f"the waiting room answered {poll.status_code}: {poll.content[:200]!r}")
                status = poll.json()
                if status["go"]:
                    break
                ahead = str(status["ahead"])
            response = await self.http.get(origin + open_url)
            html = response.text
            self.bytes_fetched += len(response.content)
            waiting = WAITING_ROOM.search(html)
        found = KERNEL_ID.search(html)
        if found is None:
            raise RuntimeError("the dashboard named no kernel: " + re.sub(r"\s+", " ", html[-300:]))
        self.kernel_id = found.group(1)
        # The client keeps the cookies as a browser does (the waiting room's answer set them, so
        # the dashboard's answer sets none); the websocket and the shutdown beacon need them.
        self.cookie = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        self.stage = "fetching the page's files"
        queue = [f"/api/kernels/{self.kernel_id}", *self.files]  # the page asks for its kernel's model first

        async def fetcher():
            while queue:
                path = queue.pop(0)
                self.in_flight.add(path)
                file = await self.http.get(self.url.rstrip("/") + path)
                self.in_flight.discard(path)
                self.bytes_fetched += len(file.content)
                if file.status_code != 200:
                    self.failed_files.append(f"{path} ({file.status_code})")

        await asyncio.gather(*(fetcher() for _ in range(PARALLEL_FETCHES)))
        base = self.url.replace("http://", "ws://", 1)
        self.stage = "opening the kernel's websocket"
        self.ws = await tornado.websocket.websocket_connect(
            tornado.httpclient.HTTPRequest(base + f"api/kernels/{self.kernel_id}/channels?session_id={self.session}",
                                           headers={"Cookie": self.cookie}, request_timeout=600),
            subprotocols=[PROTOCOL], max_message_size=1 << 30)
        self._reader = asyncio.ensure_future(self._read_always())
        self.stage = "asking for the widgets' states"
        await self._send("kernel_info_request", {})
        control = uuid.uuid4().hex
        await self._send("comm_open", {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}},
                         metadata={"version": "1.0.0"})
        await self._send("comm_msg", {"comm_id": control, "data": {"method": "request_states"}})
        while not self.states:
            message = await self._receive()
            if message["msg_type"] == "comm_msg" and message["content"]["comm_id"] == control:
                self.states = message["content"]["data"]["states"]
        await self._send("comm_close", {"comm_id": control, "data": {}})
        self.canvases = [key for key, value in self.states.items() if value["model_name"] == "MPLCanvasModel"]
        if not self.canvases:
            raise RuntimeError(f"{self.lesson} shows no ipympl canvas")
        for canvas in self.canvases:
            for kind in ("refresh", "send_image_mode", "initialized"):
                await self._canvas_message(canvas, kind)
        self.stage = "waiting for the canvases' first frames"
        waiting = set(self.canvases)
        while waiting:
            waiting.discard(await self._next_frame())
        self.stage = "drawn"

    async def settle(self, quiet_s: float = 0.5) -> None:
        """Answer the canvases until they have been silent for ``quiet_s`` (a page's second frame)."""
        try:
            while True:
                await asyncio.wait_for(self._next_frame(), quiet_s)
        except asyncio.TimeoutError:
            pass

    def slider(self, label: str) -> str:
        """The model id of the slider whose description is ``label``."""
        for key, value in self.states.items():
            state = value["state"]
            if "Slider" in value["model_name"] and state.get("description") == label:
                return key
        raise KeyError(f"{self.lesson} has no slider labelled {label!r}")

    async def move(self, slider: str, i: int) -> float:
        """Move ``slider`` one step (five steps one way, then five back, turning early at either
        end, as ``slider_latency.next_key`` does); milliseconds until the canvas's next frame."""
        model = self.states[slider]
        state = model["state"]
        log = model["model_name"] == "FloatLogSliderModel"  # its min, max and step are exponents
        position = math.log(state["value"], state["base"]) if log else state["value"]
        step = state.get("step") or 1
        direction = 1 if (i // 5) % 2 == 0 else -1
        if not state["min"] <= position + direction * step <= state["max"]:
            direction = -direction
        position += direction * step
        state["value"] = value = state["base"] ** position if log else position
        began = time.monotonic()
        update = await self._send("comm_msg", {"comm_id": slider, "data": {"method": "update", "state": {"value": value},
                                                                           "buffer_paths": []}})
        await self._next_frame(after=update)
        return 1000 * (time.monotonic() - began)

    async def close(self) -> None:
        """What a closed tab does: the shutdown beacon, then the websocket closes."""
        xsrf = re.search(r"_xsrf=([^;]+)", self.cookie)
        try:
            if self.kernel_id and xsrf:
                await self.http.post(self.url + f"voila/api/shutdown/{self.kernel_id}", timeout=30,
                                     content=f"_xsrf={xsrf.group(1)}",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        finally:
            if self.ws is not None:
                self.ws.close()
                self._reader.cancel()
            await self.http.aclose()

// voxpipe's call page: one WebRTC call to the agent, its transcript and state.
//
// Plain standard JS (no build step, no external URL): RTCPeerConnection with the
// server's ICE servers, the microphone as the one audio track, the data channel
// "voxpipe" (made before the offer) bringing the session's events as JSON lines
// shaped like events.jsonl records ({t_ms, session, type, origin, ...fields}).
//
// URL parameters: autostart=1 calls without a click; token=T sends a bearer token;
// test=1 turns the browser's audio processing off and records what the call
// received (remote audio beside the microphone, on one clock) and the transcript
// shown, then POSTs them (to `result`, default /api/test/result) at hang-up or
// after `seconds`=N, and closes the window. ice_host=ADDR (repeatable) offers the
// server only the ICE candidates on those addresses (a browser told to keep its media
// on loopback: it gathers on every interface, the server hears of 127.0.0.1 only).
"use strict";

const params = new URLSearchParams(window.location.search);
const TEST = params.get("test") === "1";
const AUTOSTART = params.get("autostart") === "1";
const SECONDS = Number(params.get("seconds") || 0);
const RESULT_URL = params.get("result") || "/api/test/result";
const TOKEN = params.get("token") || "";
const ICE_HOSTS = params.getAll("ice_host");

// Whether the candidate line ("candidate:..." or "a=candidate:...") may be offered.
function offeredCandidate(line) {
  return !ICE_HOSTS.length || ICE_HOSTS.includes(line.split(" ")[4]);
}

function offeredSdp(sdp) {
  return sdp.split("\r\n")
    .filter((line) => !line.startsWith("a=candidate:") || offeredCandidate(line)).join("\r\n");
}
const CHANNEL_LABEL = "voxpipe";
const STATE_ATTRIBUTE = "lk.agent.state";
const ICE_GATHER_WAIT_MS = 2000;   // send the offer with what was gathered by then
const DISCONNECT_GRACE_MS = 5000;  // "disconnected" this long ends the call

const $ = (id) => document.getElementById(id);
const ui = {
  call: $("call"), mute: $("mute"), hangup: $("hangup"), state: $("agent-state"),
  message: $("message"), transcript: $("transcript"), info: $("call-info"),
  micLevel: $("mic-level"), agentLevel: $("agent-level"), audio: $("remote-audio"),
};

let call = null;  // the call in progress (see startCall), null when idle

// -- what the page shows ----------------------------------------------------------------

function showMessage(text, kind = "error") {
  ui.message.textContent = text;
  ui.message.className = `message message-${kind}`;
  ui.message.hidden = !text;
  if (call && kind === "error") call.errors.push(text);
}

function showState(state, label = state) {
  ui.state.textContent = label;
  ui.state.className = `state state-${state}`;
  if (call) call.states.push(state);
}

function setButtons(inCall) {
  ui.call.disabled = inCall;
  ui.mute.disabled = !inCall;
  ui.hangup.disabled = !inCall;
  if (!inCall) { ui.mute.textContent = "Mute"; ui.mute.setAttribute("aria-pressed", "false"); }
}

// The transcript: one line per user turn and per agent item; an agent item's line is
// its sentences (segments) so far, each replaced by its newer version.
class Transcript {
  constructor(list) {
    this.list = list;
    this.userLine = null;          // the user turn being transcribed
    this.agentLines = new Map();   // item_id -> {el, segments: Map(segment_id -> text)}
    this.finals = [];              // what was shown as final, in order (test report)
  }

  line(who) {
    const li = document.createElement("li");
    li.className = `line line-${who} interim`;
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who === "user" ? "You" : "Agent";
    const text = document.createElement("span");
    text.className = "text";
    li.append(name, text);
    this.list.append(li);
    this.list.parentElement.scrollTop = this.list.parentElement.scrollHeight;
    return li;
  }

  user(text, final) {
    if (!this.userLine) this.userLine = this.line("user");
    this.userLine.querySelector(".text").textContent = text || "…";
    if (final) {
      this.userLine.classList.remove("interim");
      this.finals.push({ who: "user", text });
      this.userLine = null;
    }
  }

  agent(itemId, segmentId, text, final) {
    let entry = this.agentLines.get(itemId);
    if (!entry) {
      entry = { el: this.line("agent"), segments: new Map(), open: new Set() };
      this.agentLines.set(itemId, entry);
    }
    entry.segments.set(segmentId, text);
    if (final) {
      entry.open.delete(segmentId);
      this.finals.push({ who: "agent", text, segment_id: segmentId });
    } else {
      entry.open.add(segmentId);
    }
    entry.el.querySelector(".text").textContent = [...entry.segments.values()].join(" ");
    entry.el.classList.toggle("interim", entry.open.size > 0);
  }
}

// -- the session's events (data channel) -------------------------------------------------

const STATE_LABELS = {
  initializing: "initializing", listening: "listening", thinking: "thinking",
  speaking: "speaking",
};

function onRecord(record) {
  call.records.push(record);
  switch (record.type) {
    case "user_transcription":
      call.transcript.user(record.text, record.final);
      break;
    case "agent_transcription":
      call.transcript.agent(record.item_id, record.segment_id, record.text, record.final);
      break;
    case "transcription":  // a transcription the agent code published itself
      if (record.participant === "agent" || record.participant === call.agentIdentity) {
        call.transcript.agent(record.segment_id, record.segment_id, record.text, record.final);
      } else {
        call.transcript.user(record.text, record.final);
      }
      break;
    case "participant_attributes": {
      const state = record.attributes && record.attributes[STATE_ATTRIBUTE];
      if (state) showState(state, STATE_LABELS[state] || state);
      break;
    }
    case "error":
      if (record.fatal) showMessage(`The agent stopped: ${record.message}`);
      break;
    case "session_closed":
      endCall("The call has ended.", "info");
      break;
    default:
      break;
  }
}

function onChannelMessage(event) {
  if (typeof event.data !== "string") return;
  for (const text of event.data.split("\n")) {
    if (!text.trim()) continue;
    try {
      onRecord(JSON.parse(text));
    } catch (err) {
      console.warn("voxpipe: bad record", text, err);
    }
  }
}

// -- audio: meters, and the test tap -------------------------------------------------------

function level(analyser, buffer) {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (let i = 0; i < buffer.length; i++) sum += buffer[i] * buffer[i];
  const db = 10 * Math.log10(sum / buffer.length + 1e-12);
  return Math.min(1, Math.max(0, (db + 60) / 60));  // -60..0 dBFS -> 0..1
}

function showLevel(element, value) {
  element.style.width = `${Math.round(value * 100)}%`;
  element.parentElement.setAttribute("aria-valuenow", String(Math.round(value * 100)));
}

function meter(ctx, source, element, peaks, key) {
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  peaks[key] = 0;
  return () => {
    const value = level(analyser, buffer);
    peaks[key] = Math.max(peaks[key], value);
    showLevel(element, value);
  };
}

// Test mode: the microphone (channel 0) and the received audio (channel 1) side by
// side, so a barge-in's onset and the silence it causes are read on one clock.
const TAP_WORKLET = `
class VoxpipeTap extends AudioWorkletProcessor {
  constructor() { super(); this.chunks = [[], []]; this.n = 0; }
  process(inputs) {
    const input = inputs[0];
    for (let c = 0; c < 2; c++) {
      const ch = input[c] || input[0];
      this.chunks[c].push(ch ? ch.slice() : new Float32Array(128));
    }
    if (++this.n === 64) {
      this.port.postMessage(this.chunks);
      this.chunks = [[], []];
      this.n = 0;
    }
    return true;
  }
}
registerProcessor("voxpipe-tap", VoxpipeTap);
`;

class Tap {
  static async create(ctx) {
    const tap = new Tap(ctx);
    tap.merger = ctx.createChannelMerger(2);
    const sink = ctx.createGain();
    sink.gain.value = 0;
    sink.connect(ctx.destination);
    if (ctx.audioWorklet) {
      const url = URL.createObjectURL(new Blob([TAP_WORKLET], { type: "text/javascript" }));
      await ctx.audioWorklet.addModule(url);
      const node = new AudioWorkletNode(ctx, "voxpipe-tap", {
        numberOfInputs: 1, numberOfOutputs: 1, channelCount: 2,
        channelCountMode: "explicit", channelInterpretation: "discrete",
      });
      node.port.onmessage = (e) => tap.add(e.data[0], e.data[1]);
      tap.merger.connect(node).connect(sink);
    } else {  // no AudioWorklet: the older ScriptProcessorNode does the same
      const node = ctx.createScriptProcessor(4096, 2, 2);
      node.onaudioprocess = (e) => tap.add([e.inputBuffer.getChannelData(0).slice()],
                                           [e.inputBuffer.getChannelData(1).slice()]);
      tap.merger.connect(node).connect(sink);
    }
    return tap;
  }

  constructor(ctx) { this.ctx = ctx; this.mic = []; this.received = []; this.samples = 0; }

  add(mic, received) {
    this.mic.push(...mic);
    this.received.push(...received);
    for (const c of mic) this.samples += c.length;
  }

  input(node, channel) { node.connect(this.merger, 0, channel); }

  static join(chunks) {
    const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  }
}

// -- the call ------------------------------------------------------------------------------

async function iceServers() {
  // The server says which STUN/TURN servers to use (none by default: loopback and LAN
  // need none); a <meta name="voxpipe-ice-servers"> can carry them instead.
  try {
    const reply = await fetch("/api/config", { cache: "no-store" });
    if (reply.ok) {
      const config = await reply.json();
      return config.iceServers || config.ice_servers || [];
    }
  } catch (err) { /* unreachable: the offer will say so */ }
  const meta = document.querySelector('meta[name="voxpipe-ice-servers"]');
  return meta ? JSON.parse(meta.content) : [];
}

function microphoneError(err) {
  switch (err && err.name) {
    case "NotAllowedError": case "SecurityError": case "PermissionDeniedError":
      return "Microphone access was refused. Allow the microphone for this page and call again.";
    case "NotFoundError": case "OverconstrainedError":
      return "No microphone was found. Plug one in and call again.";
    case "NotReadableError": case "AbortError":
      return "The microphone is busy or failed to start (is another app using it?).";
    default:
      return `The microphone could not be opened (${err && err.name || err}).`;
  }
}

function waitForIceGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ICE_GATHER_WAIT_MS);
  });
}

function authHeaders() {
  const headers = { "Content-Type": "application/json" };
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  return headers;
}

async function postOffer(description) {
  let reply;
  try {
    reply = await fetch("/api/offer", {
      method: "POST", headers: authHeaders(),
      body: JSON.stringify({ sdp: description.sdp, type: description.type }),
    });
  } catch (err) {
    throw new Error(`Cannot reach the voxpipe server at ${window.location.host}. Is it running?`);
  }
  if (reply.ok) return reply.json();
  let detail = (await reply.text()).trim();
  try { detail = JSON.parse(detail).error || detail; } catch (err) { /* plain text */ }
  if (reply.status === 503) throw new Error("The server is busy (all call slots are taken). Try again in a moment.");
  if (reply.status === 401 || reply.status === 403) throw new Error("The server refused the call: a valid token is needed (?token=...).");
  throw new Error(`The server refused the call (${reply.status}${detail ? `: ${detail}` : ""}).`);
}

// Candidates found after the offer went out: PATCH /api/offer (trickle ICE).
function trickle(pc, candidate) {
  if (candidate && call && call.pc === pc && offeredCandidate(candidate.candidate)) {
    call.candidates.push(candidate.candidate);
  }
  if (!candidate || !call || !call.pcId || !offeredCandidate(candidate.candidate)) return;
  fetch("/api/offer", {
    method: "PATCH", headers: authHeaders(),
    body: JSON.stringify({
      pc_id: call.pcId,
      candidates: [{
        candidate: candidate.candidate, sdp_mid: candidate.sdpMid,
        sdp_mline_index: candidate.sdpMLineIndex,
      }],
    }),
  }).catch(() => {});
}

function watchConnection(pc) {
  let graceTimer = null;
  const onState = () => {
    if (!call || call.pc !== pc) return;
    const state = pc.connectionState || pc.iceConnectionState;
    call.connection.push(state);
    clearTimeout(graceTimer);
    if (state === "connected" || state === "completed") {
      if (!call.timing.connected_ms) call.timing.connected_ms = performance.now();
      showMessage("", "info");
      ui.info.textContent = `Connected · call ${call.pcId || ""}`;
    } else if (state === "disconnected") {
      showMessage("The connection to the server was interrupted; trying to recover…", "warning");
      graceTimer = setTimeout(() => endCall("The call dropped: the connection to the server was lost."),
                              DISCONNECT_GRACE_MS);
    } else if (state === "failed") {
      endCall("The call dropped: the connection to the server failed.");
    }
  };
  if ("connectionState" in pc) pc.addEventListener("connectionstatechange", onState);
  else pc.addEventListener("iceconnectionstatechange", onState);
}

async function startCall() {
  if (call) return;
  setButtons(true);
  showMessage("", "info");
  ui.transcript.textContent = "";
  call = {
    pc: null, channel: null, stream: null, ctx: null, tap: null, pcId: "", timers: [],
    transcript: new Transcript(ui.transcript), records: [], states: [], errors: [],
    connection: [], candidates: [], sdp: {}, peaks: {}, timing: {}, agentIdentity: "agent", startedAt: Date.now(), ending: false,
  };
  showState("connecting", "connecting…");
  try {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("This page needs a secure origin (https, or http://localhost) for the microphone.");
    }
    const audio = TEST
      ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
      : true;
    try {
      call.stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
      call.timing.mic_open_ms = performance.now();
    } catch (err) {
      throw new Error(microphoneError(err));
    }
    await setUpAudio(call);
    const pc = call.pc = new RTCPeerConnection({ iceServers: await iceServers() });
    watchConnection(pc);
    for (const track of call.stream.getAudioTracks()) pc.addTrack(track, call.stream);
    pc.ontrack = (e) => onRemoteTrack(e);
    call.channel = pc.createDataChannel(CHANNEL_LABEL, { ordered: true });
    call.channel.onmessage = onChannelMessage;
    call.channel.onclose = () => endCall("The server closed the call.");
    pc.onicecandidate = (e) => trickle(pc, e.candidate);
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    const offer = { sdp: offeredSdp(pc.localDescription.sdp), type: pc.localDescription.type };
    call.sdp.offer = offer.sdp;
    const answer = await postOffer(offer);
    call.sdp.answer = answer.sdp;
    if (!call || call.pc !== pc) return;  // hung up meanwhile
    call.pcId = answer.pc_id || "";
    call.sessionId = answer.session_id || "";
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    showState("initializing");
    if (SECONDS > 0) call.timers.push(setTimeout(() => endCall("", "info"), SECONDS * 1000));
  } catch (err) {
    await endCall(err.message || String(err));
  }
}

async function setUpAudio(c) {
  const Context = window.AudioContext || window.webkitAudioContext;
  // Test mode records at WebRTC's own rate (48 kHz): no resampling in the page.
  c.ctx = TEST ? new Context({ sampleRate: 48000 }) : new Context();
  if (c.ctx.state === "suspended") await c.ctx.resume().catch(() => {});
  const mic = c.ctx.createMediaStreamSource(c.stream);
  c.meters = [meter(c.ctx, mic, ui.micLevel, c.peaks, "mic")];
  if (TEST) {
    c.tap = await Tap.create(c.ctx);
    c.tap.input(mic, 0);
  }
  c.timers.push(setInterval(() => { for (const m of c.meters) m(); }, 50));
}

function onRemoteTrack(event) {
  if (!call || event.track.kind !== "audio") return;
  const stream = event.streams[0] || new MediaStream([event.track]);
  // The <audio> element plays it (and Chromium feeds WebAudio a remote stream only
  // while a media element renders it).
  ui.audio.srcObject = stream;
  ui.audio.play().catch(() => showMessage("Click anywhere to hear the agent.", "warning"));
  const source = call.ctx.createMediaStreamSource(stream);
  call.meters.push(meter(call.ctx, source, ui.agentLevel, call.peaks, "agent"));
  if (call.tap) call.tap.input(source, 1);
}

function toggleMute() {
  if (!call || !call.stream) return;
  const track = call.stream.getAudioTracks()[0];
  track.enabled = !track.enabled;
  ui.mute.textContent = track.enabled ? "Mute" : "Unmute";
  ui.mute.setAttribute("aria-pressed", String(!track.enabled));
}

async function endCall(message = "", kind = "error") {
  const c = call;
  if (!c || c.ending) return;
  c.ending = true;
  if (message) showMessage(message, kind);
  for (const t of c.timers) { clearTimeout(t); clearInterval(t); }
  if (TEST) await postResult(c);
  if (c.channel) { c.channel.onclose = null; c.channel.close(); }
  if (c.pc) c.pc.close();
  if (c.stream) for (const track of c.stream.getTracks()) track.stop();
  if (c.ctx) c.ctx.close().catch(() => {});
  ui.audio.srcObject = null;
  showLevel(ui.micLevel, 0);
  showLevel(ui.agentLevel, 0);
  call = null;
  setButtons(false);
  showState("idle", "not connected");
  ui.info.textContent = "";
  if (TEST) window.close();
}

// The browser's own account of the agent's audio: its jitter buffer and concealment
// (what a listener would hear as a glitch), from the inbound RTP stats.
async function inboundAudioStats(pc) {
  if (!pc) return {};
  try {
    for (const s of (await pc.getStats()).values()) {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        return {
          jitter_buffer_delay_s: s.jitterBufferDelay, jitter_buffer_emitted: s.jitterBufferEmittedCount,
          jitter_buffer_target_delay_s: s.jitterBufferTargetDelay, samples_received: s.totalSamplesReceived,
          concealed_samples: s.concealedSamples, packets_lost: s.packetsLost, packets_received: s.packetsReceived,
        };
      }
    }
  } catch (err) { /* a closed connection has no stats: none are reported */ }
  return {};
}

async function postResult(c) {
  const inbound = await inboundAudioStats(c.pc);
  const meta = {
    inbound_audio: inbound,
    pc_id: c.pcId, session_id: c.sessionId || "", sample_rate: c.ctx ? c.ctx.sampleRate : 0,
    samples: c.tap ? c.tap.samples : 0, transcript: c.transcript.finals,
    shown: [...ui.transcript.querySelectorAll(".line")].map((li) => ({
      who: li.classList.contains("line-user") ? "user" : "agent",
      text: li.querySelector(".text").textContent,
    })),
    peaks: c.peaks, timing: c.timing, records: c.records, states: c.states, errors: c.errors, connection: c.connection,
    sdp: c.sdp, candidates: c.candidates,
    message: ui.message.hidden ? "" : ui.message.textContent,
    user_agent: navigator.userAgent,
  };
  const form = new FormData();
  form.append("meta", JSON.stringify(meta));
  if (c.tap) {
    form.append("mic", new Blob([Tap.join(c.tap.mic)]), "mic.f32");
    form.append("received", new Blob([Tap.join(c.tap.received)]), "received.f32");
  }
  try {
    await fetch(RESULT_URL, { method: "POST", body: form });
    document.title = "voxpipe: result sent";
  } catch (err) {
    document.title = "voxpipe: result failed";
  }
}

ui.call.addEventListener("click", startCall);
ui.hangup.addEventListener("click", () => endCall("You hung up.", "info"));
ui.mute.addEventListener("click", toggleMute);
window.addEventListener("pagehide", () => { if (call && call.pc) call.pc.close(); });
setButtons(false);
if (AUTOSTART) startCall();

"""How a ``MultimodalAgent`` finds its caller and starts the pipeline session.

It links a participant (the one given, else the first in the room, else the first to
join), subscribes to its microphone, and on the subscribed track starts the session
on the room's transport with the model's settings; it publishes the agent's state and
the transcriptions to the room. Apart from ``agent.py`` so each
stays one concept: this is the room side, ``agent.py`` the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Literal

from ipc.schema import DEFAULT_MODEL_RATE, AgentTranscription, StageEvent, UserTranscription
from pipeline.agents.multimodal.agent_playout import PlayoutHandle
from pipeline.agents.multimodal.options import AgentTranscriptionOptions
from pipeline.agents.multimodal.transcript_sync import TranscriptSegment
from pipeline.agents.realtime.protocol import RealtimeModel
from pipeline.agents.realtime.session import RealtimeSession
from pipeline.agents.room import (
    ATTRIBUTE_AGENT_STATE,
    SOURCE_MICROPHONE,
    RemoteParticipant,
    Room,
    Track,
)
from pipeline.agents.vad import VAD
from pipeline.supervisor.session import SessionSpec

log = logging.getLogger("voxpipe.agent")

AgentState = Literal["initializing", "listening", "thinking", "speaking"]


class CallLink:
    """The room side of ``MultimodalAgent`` (a mixin: the agent provides the rest)."""

    _model: Any
    _vad: VAD | None
    _room: Room | None
    _participant: RemoteParticipant | str | None
    _linked_participant: RemoteParticipant | None
    _subscribed_track: Track | None

    @property
    def session(self) -> RealtimeSession:
        raise NotImplementedError

    _loop: asyncio.AbstractEventLoop | None
    _tasks: set[asyncio.Task[Any]]
    _state: AgentState | None
    _opts: AgentTranscriptionOptions

    emit: Callable[..., None]  # the agent's EventEmitter.emit (later in the MRO)

    def _on_pipeline_event(self, ev: StageEvent) -> None:
        raise NotImplementedError

    # -- participants and the microphone ---------------------------------------------
    def _on_participant_connected(self, participant: RemoteParticipant) -> None:
        # The seed returns early when *no* participant is linked, which is backwards:
        # a participant that joins later is linked when none is yet (and, if the
        # agent was given an identity, only when it is that one).
        if self._linked_participant is not None:
            return
        wanted = self._participant
        identity = wanted if isinstance(wanted, str) else getattr(wanted, "identity", None)
        if identity is None or identity == participant.identity:
            self._link_participant(participant.identity)

    def _link_participant(self, identity: str) -> None:
        assert self._room is not None
        self._linked_participant = self._room.remote_participants.get(identity)
        if self._linked_participant is None:
            log.info("participant %r not in the room yet; waiting for it", identity)
            return
        self._subscribe_to_microphone()

    def _subscribe_to_microphone(self, *args: Any) -> None:
        if self._linked_participant is None:
            return
        for publication in self._linked_participant.track_publications.values():
            if publication.source != SOURCE_MICROPHONE:
                continue
            if not publication.subscribed:
                publication.set_subscribed(True)
            if publication.track is not None and publication.track != self._subscribed_track:
                self._subscribed_track = publication.track
                self._spawn(self._start_call(publication.track))
                break

    async def _start_call(self, track: Track) -> None:
        room, session = self._room, self.session
        assert room is not None and room.runtime is not None
        model: RealtimeModel = self._model
        settings = model.settings
        spec = SessionSpec(
            room.transport(), out_dir=room.out_dir,
            model_url=await model.url(),
            api_key=model.api_key, api_key_header=settings.api_key_header,
            provider=settings.provider,
            protocol=settings.protocol, model_name=settings.model,
            settings=session.start_settings(),
            model_rate=model.capabilities.input_audio_sample_rate or DEFAULT_MODEL_RATE,
            agent=True, max_session_s=settings.max_session_s,
            local_vad_min_speech_ms=self._vad.min_speech_ms if self._vad else 0,
            local_vad_threshold_db=self._vad.threshold_db if self._vad else 0.0,
        )
        try:
            live = room.runtime.start_session(spec)
        except Exception as exc:  # refused (no headroom) or a bad spec: the call cannot run
            log.error("the call's session could not start: %s", exc)
            self.emit("error", exc)
            room.emit("session_failed", exc)
            return
        live.on(self._on_pipeline_event)
        room.bind_session(room.runtime, live.id)
        session.attach(room.runtime, live.id)
        await session._init_sync_task
        log.info("session initialized with chat context", extra={"session": live.id})
        self._update_state("listening")

    # -- publishing to the room -----------------------------------------------------
    def _update_state(self, state: AgentState) -> None:
        if state == self._state:
            return
        self._state = state
        self.emit("agent_state_changed", state)
        if self._room is not None:
            self._spawn(self._room.local_participant.set_attributes(
                {ATTRIBUTE_AGENT_STATE: state}))

    def _publish_agent(self, handle: PlayoutHandle, segment: TranscriptSegment) -> None:
        if self._room is not None:
            self._room.publish(AgentTranscription(segment.id, handle.item_id, segment.text,
                                                  segment.final, handle.released_words))

    def _publish_user(self, text: str, *, final: bool) -> None:
        if self._room is not None and self._opts.user_transcription:
            self._room.publish(UserTranscription(text, final))

    def _spawn(self, coro: Any) -> None:
        loop = self._loop or asyncio.get_running_loop()
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

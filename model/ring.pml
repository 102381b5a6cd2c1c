/*
 * ring.pml — a Promela model of framebroker's slot protocol, for spin.
 *
 * What is modelled, and the C it mirrors (lib/fb_ring.c unless noted):
 *   LOCK/UNLOCK       the robust process-shared mutex (fb_lock_take,
 *                     lib/fb_lock.c); a holder that dies releases it with
 *                     lockdead set, and the next locker runs repair()
 *                     (repair_words_locked, on EOWNERDEAD)
 *   producer claim    fb_ring_claim: a REISSUE slot first, else frame
 *                     next_claim while it lies in [next_encode, next_encode+S)
 *                     and rewind is 0; "all out" (exit) only with rewind 0
 *   producer publish  fb_ring_publish: only if the slot is still CLAIMED by
 *                     this incarnation (owner/generation check, else -ESTALE)
 *   producer unclaim  fb_ring_unclaim (fb_abort_claim in the library): a
 *                     live producer gives its claimed frame back: REISSUE,
 *                     as the sweep does for a dead one (MAXUNCLAIMS times)
 *   producer death    DIE(): SIGKILL at any step, including inside the two
 *                     critical sections (between the slot words and
 *                     next_claim++; between length and state=READY); the
 *                     process is then replaced (fb-render's restart) by a
 *                     new incarnation
 *   encoder           fb_ring_acquire / sink push / fb_ring_release: takes
 *                     frames in order 0..N-1 and may hold several at once
 *                     (ENCODING) before releasing the oldest — the
 *                     vmsplice sink frees a slot only once ffmpeg has read
 *                     it; the C releases a run of n under one lock, which
 *                     is n of these single releases back to back
 *   segments          fb-encoder's ffmpeg per segment of SEGLEN frames: the
 *                     encoder writes no frame of segment k+1 before segment
 *                     k is verified (its ffmpeg exited 0: `verified` moves
 *                     on); it keeps the render's last frame until the last
 *                     segment is verified, so no producer can exit before a
 *                     rewind
 *   rewind            ffmpeg killed by a signal while a segment is open (at
 *                     most MAXREWINDS times), lib/fb_rewind.c:
 *                     1. fb_ring_rewind_begin: under the lock, rewind = 1
 *                     2. the encoder releases what it holds and acquires and
 *                        releases, discarding, every frame in flight, in
 *                        order, until next_encode == next_claim
 *                     3. fb_ring_rewind_to(seg, A), A = verified (the open
 *                        segment's first frame): under the lock, only if
 *                        rewind, next_encode == next_claim, reissue_pending
 *                        0 and every slot EMPTY (else -EAGAIN), next_claim =
 *                        next_encode = A, rewind = 0, every sleeper woken
 *                        (`rewinds` counts them: the producers' wait)
 *                     4. a new ffmpeg: the sink's output restarts at A, the
 *                        frames >= A written before are unwritten
 *   broker            fb_ring_sweep (lib/fb_registry.c; broker/watch.c
 *                     broker_on_death): a CLAIMED slot whose owner is dead
 *                     becomes REISSUE
 *   waiting           a blocking guard stands for "sleep on the semaphore,
 *                     re-check under the lock": the semaphores carry no
 *                     state, so only the words matter
 *
 * Checked (make model): no invalid end state (deadlock), every assertion:
 * frames reach the sink in order, each exactly once (in the final pass,
 * after the last rewind), never more than S in flight, a fresh claim
 * always finds its slot EMPTY.  Three runs: two deaths without rewind; one
 * death and an unclaim; one death and one rewind (-DMAXREWINDS=1
 * -DMAXDEATHS=1: two deaths and a rewind are 9*10^7 states).  To show the
 * check can fail, make model also verifies broken variants, demands errors:
 * BUG_WINDOW (claims one frame beyond the window), BUG_NO_REISSUE_WAKE (a
 * producer asleep on a full window is not woken by a reissue) and
 * BUG_REWIND_NO_DRAIN (rewind_to moves the window back while slots are
 * still occupied) and BUG_RELEASE_BEFORE_REWIND (ffmpeg's held frames given
 * back before rewind_begin: the last one lets the producers exit "all
 * out", and the segment rewound to is never rendered).
 */
#define S 2
#define N 4
#ifndef MAXDEATHS
#define MAXDEATHS 2
#endif
#ifndef MAXUNCLAIMS
#define MAXUNCLAIMS 0   /* make model also runs 1, with one death */
#endif
#ifndef MAXREWINDS
#define MAXREWINDS 1    /* the main run has 0; its own run has 1 */
#endif
#define SEGLEN 2        /* segments [0,2) and [2,4) */
#define NOBODY 0
#define ENC 100
#define BRK 101

#define EMPTY 0
#define CLAIMED 1
#define READY 2
#define ENCODING 3
#define REISSUE 4

byte state[S];
byte frame[S];
byte owner[S];          /* incarnation id, NOBODY when none */
byte next_claim = 0;
byte next_encode = 0;
byte pending = 0;       /* reissue_pending */
bool alive[8];          /* by incarnation id */
byte next_id = 1;
byte deaths = 0;
byte unclaims = 0;      /* frames given back by a live producer */
byte lock = NOBODY;
bool lockdead = false;
byte written[N];
byte emitted = 0;
bool rewind = false;    /* the header word: the encoder drains for a rewind */
byte rewinds = 0;       /* fb_ring_rewind_to calls that succeeded */
byte verified = 0;      /* frames [0, verified): in segments ffmpeg finished */

#define ALL_EMPTY (state[0] == EMPTY && state[1] == EMPTY)

inline repair() {
	if
	:: next_claim < N && state[next_claim % S] != EMPTY && frame[next_claim % S] == next_claim ->
		next_claim++
	:: else -> skip
	fi
}

inline LOCK(who) {
	atomic {
		lock == NOBODY -> lock = who;
		if
		:: lockdead -> repair(); lockdead = false
		:: else -> skip
		fi
	}
}

inline UNLOCK() { lock = NOBODY }

/* SIGKILL, maybe, right here; the replacement starts over at `restart`. */
inline DIE() {
	if
	:: deaths < MAXDEATHS ->
		atomic {
			deaths++;
			alive[me] = false;
			if
			:: lock == me -> lock = NOBODY; lockdead = true
			:: else -> skip
			fi
		}
		goto restart
	:: true -> skip
	fi
}

proctype producer()
{
	byte me, f, s, e0, r0;
	bool found;

restart:
	atomic { me = next_id; next_id++; alive[me] = true }
claim:
	LOCK(me);
	/* a frame taken back from a dead producer first */
	found = false;
	s = 0;
	do
	:: s < S && state[s] == REISSUE -> found = true; break
	:: s < S && state[s] != REISSUE -> s++
	:: s >= S -> break
	od;
	if
	:: found ->
		assert(frame[s] >= next_encode && frame[s] < next_claim && frame[s] % S == s);
		owner[s] = me; state[s] = CLAIMED; pending--; f = frame[s];
		UNLOCK();
		goto render
	:: else -> skip
	fi;
	if
	:: !rewind && next_claim >= N && next_encode >= N ->
		UNLOCK();
		goto quit
#ifdef BUG_WINDOW
	:: !rewind && next_claim < N && next_claim - next_encode <= S ->   /* one too many */
#else
	:: !rewind && next_claim < N && next_claim - next_encode < S ->
#endif
		f = next_claim;
		s = f % S;
		assert(state[s] == EMPTY);
		DIE();
		frame[s] = f; owner[s] = me; state[s] = CLAIMED;
		DIE();                 /* inside the lock, before next_claim++ */
		next_claim++;
		UNLOCK()
	:: else ->
		/* window full or shut for a rewind, or all claimed but not all
		 * emitted: sleep until the encoder moves on, a frame is
		 * reissued, or a rewind ends (fb_ring_rewind_to wakes all) */
		e0 = next_encode;
		r0 = rewinds;
		UNLOCK();
#ifdef BUG_NO_REISSUE_WAKE
		(next_encode != e0 || rewinds != r0);   /* a reissued frame wakes nobody */
#else
		(next_encode != e0 || pending > 0 || rewinds != r0);
#endif
		goto claim
	fi;
render:
	DIE();                         /* between claim and publish */
	if
	:: unclaims < MAXUNCLAIMS ->   /* fb_ring_unclaim: give it back unrendered */
		LOCK(me);
		if
		:: state[s] == CLAIMED && owner[s] == me && frame[s] == f ->
			owner[s] = NOBODY; state[s] = REISSUE; pending++; unclaims++
		:: else -> skip        /* -ESTALE */
		fi;
		UNLOCK();
		goto claim
	:: true -> skip
	fi;
	LOCK(me);
	if
	:: state[s] == CLAIMED && owner[s] == me && frame[s] == f ->
		DIE();                 /* inside the lock: length, not yet READY */
		state[s] = READY
	:: else -> skip                /* -ESTALE */
	fi;
	UNLOCK();
	DIE();                         /* after publish */
	goto claim;
quit:
	alive[me] = false
}

proctype encoder()
{
	byte t = 0;             /* next frame to take: the encoder holds [next_encode, t) */
	bool draining = false;  /* between rewind_begin and rewind_to */
	byte f = 0;

	do
	:: !draining && next_encode == N -> break
	:: t < N && t - next_encode < S &&
	   (draining && t < next_claim || !draining && t < verified + SEGLEN) ->
		LOCK(ENC);
		assert(t >= next_encode);
		assert(state[t % S] == EMPTY || frame[t % S] == t);
		if
		:: state[t % S] == READY ->
			state[t % S] = ENCODING;
			UNLOCK();
			if
			:: draining -> skip    /* acquired to be discarded */
			:: else ->
				written[t]++;  /* pushed to the sink (writev / vmsplice) */
				assert(written[t] == 1 && emitted == t);
				emitted++
			fi;
			t++
		:: else ->
			UNLOCK();
			if
			:: t > next_encode -> skip     /* holding frames: a bounded wait */
			:: else ->                     /* or ffmpeg dies meanwhile */
				(state[t % S] == READY || !draining && rewinds < MAXREWINDS && emitted > verified)
			fi
		fi
	:: t > next_encode && (next_encode < N - 1 || verified == N || draining) ->
		/* the sink is done with the oldest frame; the render's last
		 * frame is kept until no rewind can come */
		LOCK(ENC);
		assert(state[next_encode % S] == ENCODING && frame[next_encode % S] == next_encode);
		state[next_encode % S] = EMPTY; owner[next_encode % S] = NOBODY;
		next_encode++;
		UNLOCK()
	:: !draining && emitted == verified + SEGLEN ->
		verified = emitted     /* ffmpeg closed the segment, exited 0, verified */
	:: !draining && rewinds < MAXREWINDS && emitted > verified ->
		/* ffmpeg killed by a signal in segment [verified, ..):
		 * fb_ring_rewind_begin */
#ifdef BUG_RELEASE_BEFORE_REWIND
		/* the frames ffmpeg held given back first (encoder/segments.c
		 * had this order) */
		do
		:: t > next_encode ->
			LOCK(ENC);
			state[next_encode % S] = EMPTY; owner[next_encode % S] = NOBODY;
			next_encode++;
			UNLOCK()
		:: else -> break
		od;
#endif
		LOCK(ENC);
		rewind = true;
		UNLOCK();
		draining = true
#ifdef BUG_REWIND_NO_DRAIN
	:: draining && t == next_encode ->     /* only its own frames released */
#else
	:: draining && t == next_encode && next_encode == next_claim ->
#endif
		/* fb_ring_rewind_to(seg, A): A = verified, the open segment's
		 * first frame */
		LOCK(ENC);
		if
#ifdef BUG_REWIND_NO_DRAIN
		:: rewind ->
#else
		:: rewind && next_encode == next_claim && pending == 0 && ALL_EMPTY ->
#endif
			d_step {
				next_claim = verified; next_encode = verified;
				rewind = false; rewinds++;
				/* a new ffmpeg writes the segment again from A */
				emitted = verified;
				f = verified;
				do
				:: f < N -> written[f] = 0; f++
				:: else -> break
				od;
				f = 0;
				t = verified;
				draining = false
			}
		:: else -> skip        /* -EAGAIN: still in flight */
		fi;
		UNLOCK()
	od
}

#define DEAD_CLAIM(s) (state[s] == CLAIMED && !alive[owner[s]])

proctype broker()
{
	byte s;

end:	do
	:: (DEAD_CLAIM(0) || DEAD_CLAIM(1)) ->
		LOCK(BRK);
		s = 0;
		do
		:: s < S ->
			if
			:: DEAD_CLAIM(s) -> owner[s] = NOBODY; state[s] = REISSUE; pending++
			:: else -> skip
			fi;
			s++
		:: else -> break
		od;
		UNLOCK()
	od
}

/* Bounded: never more than S frames in flight. */
active proctype invariant()
{
end:	atomic { !(next_claim >= next_encode && next_claim - next_encode <= S) -> assert(false) }
}

init
{
	atomic {
		run encoder();
		run producer();
		run producer();
		run broker()
	}
	/* the render completes: every frame out once, in order, in the
	 * final pass (after the last rewind) */
	(verified == N && next_encode == N);
	assert(written[0] == 1 && written[1] == 1 && written[2] == 1 && written[3] == 1)
}

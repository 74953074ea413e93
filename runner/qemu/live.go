package qemu

import "time"

// stepGrace is how long past its timeout a step may take on the host's
// side: the agent kills a step at its timeout and answers at once, so a
// step that still has no answer after this is in a guest that can answer
// no more (a locked-up kernel), and is given up.
const stepGrace = 4 * time.Second

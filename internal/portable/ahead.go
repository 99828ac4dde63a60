package portable

import "sync"

// ReadAhead calls next in a goroutine of its own, up to n records ahead of
// the caller, so that reading and decoding the file overlaps with writing
// the records to the store (a round trip to PostgreSQL, SQLite's own work):
// memory holds n records at most. After an error, the returned function
// returns that error again. stop lets the goroutine end after the record it
// is reading; call it when done.
func ReadAhead[T any](next func() (T, error), n int) (read func() (T, error), stop func()) {
	type item struct {
		v   T
		err error
	}
	ch := make(chan item, n)
	done := make(chan struct{})
	go func() {
		for {
			v, err := next()
			select {
			case ch <- item{v, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var failed error
	read = func() (T, error) {
		if failed != nil {
			var zero T
			return zero, failed
		}
		it := <-ch
		failed = it.err
		return it.v, it.err
	}
	var once sync.Once
	return read, func() { once.Do(func() { close(done) }) }
}

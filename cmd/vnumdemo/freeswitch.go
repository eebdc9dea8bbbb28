package main

import "errors"

func newFreeSWITCH() (world, error) {
	return nil, errors.New("the FreeSWITCH demo needs the esl driver, which is not built yet")
}

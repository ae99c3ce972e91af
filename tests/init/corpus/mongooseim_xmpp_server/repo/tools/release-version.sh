#!/bin/sh
git describe --always

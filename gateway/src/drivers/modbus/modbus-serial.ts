import ModbusSerial from 'modbus-serial';

// modbus-serial is CommonJS typed with `export default`: under NodeNext the default import is
// the module object, whose `default` is the client class (the package sets it at runtime too).
export const ModbusRTU = ModbusSerial.default;
export type ModbusRTU = InstanceType<typeof ModbusRTU>;
